import { createContext, createSignal, useContext, type JSX } from 'solid-js';
import { pt } from './pt';
import { en } from './en';

export type Locale = 'pt-BR' | 'en';
export type MessageKey = keyof typeof pt;
export type Dict = Record<MessageKey, string>;

const dicts: Record<Locale, Dict> = { 'pt-BR': pt, en };
const STORAGE_KEY = 'tcc.locale';

/** `{name}` placeholders filled from params. */
export function interpolate(s: string, params: Record<string, string | number> = {}): string {
  return s.replace(/\{(\w+)\}/g, (m, k: string) => (k in params ? String(params[k]) : m));
}

export function translate(locale: Locale, key: MessageKey, params?: Record<string, string | number>): string {
  return interpolate(dicts[locale][key] ?? pt[key] ?? key, params);
}

/** Locale-aware formatting (Intl); pure functions so tests can call them directly. */
export function formatters(locale: Locale) {
  const nf = new Intl.NumberFormat(locale, { maximumFractionDigits: 0 });
  const nf3 = new Intl.NumberFormat(locale, { maximumFractionDigits: 3 });
  const compact = new Intl.NumberFormat(locale, { notation: 'compact', maximumFractionDigits: 1 });
  const pct = new Intl.NumberFormat(locale, { style: 'percent', maximumFractionDigits: 1 });
  const usd = new Intl.NumberFormat(locale, { style: 'currency', currency: 'USD', minimumFractionDigits: 2, maximumFractionDigits: 2 });
  const usdFine = new Intl.NumberFormat(locale, { style: 'currency', currency: 'USD', minimumFractionDigits: 2, maximumFractionDigits: 6 });
  const date = new Intl.DateTimeFormat(locale, { dateStyle: 'medium' });
  const dateLong = new Intl.DateTimeFormat(locale, { dateStyle: 'long', timeZone: 'UTC' });
  const dateTime = new Intl.DateTimeFormat(locale, { dateStyle: 'short', timeStyle: 'short' });
  const dayShort = new Intl.DateTimeFormat(locale, { day: '2-digit', month: '2-digit', timeZone: 'UTC' });
  return {
    /** Tokens for reading: whole above 1,000, up to 3 decimals below. */
    num: (n: number) => (Number.isInteger(n) || Math.abs(n) >= 1000 ? nf.format(n) : nf3.format(n)),
    /** Exact amounts (ledger): up to 3 decimals always. */
    exact: (n: number) => nf3.format(n),
    compact: (n: number) => compact.format(n),
    /** percentUsed from the API is 0–100. */
    percent: (p: number) => pct.format(p / 100),
    usd: (n: number) => (n !== 0 && Math.abs(n) < 0.01 ? usdFine.format(n) : usd.format(n)),
    date: (iso: string | Date) => date.format(new Date(iso)),
    /** 'YYYY-MM-DD' → "1 de dezembro de 2026" / "December 1, 2026", timezone-neutral. */
    dayLong: (ymd: string) => dateLong.format(new Date(`${ymd}T00:00:00Z`)),
    dateTime: (iso: string | Date) => dateTime.format(new Date(iso)),
    /** 'YYYY-MM-DD' → short day label, timezone-neutral. */
    day: (ymd: string) => dayShort.format(new Date(`${ymd}T00:00:00Z`)),
  };
}
export type Formatters = ReturnType<typeof formatters>;

function initialLocale(): Locale {
  try {
    const saved = localStorage.getItem(STORAGE_KEY);
    if (saved === 'en' || saved === 'pt-BR') return saved;
  } catch {
    /* storage unavailable */
  }
  return 'pt-BR';
}

function createI18n(start?: Locale) {
  const [locale, setLocaleSignal] = createSignal<Locale>(start ?? initialLocale());
  let cache: { l: Locale; f: Formatters } | undefined;
  const fmt = (): Formatters => {
    const l = locale();
    if (!cache || cache.l !== l) cache = { l, f: formatters(l) };
    return cache.f;
  };
  return {
    locale,
    setLocale(l: Locale) {
      setLocaleSignal(l);
      try {
        localStorage.setItem(STORAGE_KEY, l);
      } catch {
        /* ignore */
      }
      document.documentElement.lang = l;
    },
    t: (key: MessageKey, params?: Record<string, string | number>) => translate(locale(), key, params),
    fmt,
  };
}
export type I18n = ReturnType<typeof createI18n>;

const I18nContext = createContext<I18n>();

export function I18nProvider(props: { locale?: Locale; children: JSX.Element }) {
  const i18n = createI18n(props.locale);
  return <I18nContext.Provider value={i18n}>{props.children}</I18nContext.Provider>;
}

export function useI18n(): I18n {
  const v = useContext(I18nContext);
  if (!v) throw new Error('useI18n outside <I18nProvider>');
  return v;
}
