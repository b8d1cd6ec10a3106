import { cleanup, render, screen, fireEvent } from '@solidjs/testing-library';
import { afterEach, describe, expect, it, beforeEach } from 'vitest';
import { en } from '../src/i18n/en';
import { pt } from '../src/i18n/pt';
import { formatters, I18nProvider, interpolate, translate, useI18n } from '../src/i18n';

afterEach(cleanup);

describe('i18n', () => {
  beforeEach(() => localStorage.clear());

  it('has the same keys in both languages, none empty', () => {
    expect(Object.keys(en).sort()).toEqual(Object.keys(pt).sort());
    for (const [k, v] of [...Object.entries(pt), ...Object.entries(en)]) expect(v, k).not.toBe('');
  });

  it('interpolates placeholders and leaves unknown ones', () => {
    expect(interpolate('Página {page} de {pages}', { page: 2, pages: 9 })).toBe('Página 2 de 9');
    expect(interpolate('{a} {b}', { a: 'x' })).toBe('x {b}');
    expect(translate('en', 'credits.done', { amount: '1,000' })).toBe('1,000 tokens added.');
    expect(translate('pt-BR', 'credits.done', { amount: '1.000' })).toBe('1.000 tokens adicionados.');
  });

  it('formats numbers, money, percentages and dates for the locale', () => {
    const pt = formatters('pt-BR');
    const en = formatters('en');
    expect(pt.num(1234567)).toBe('1.234.567');
    expect(en.num(1234567)).toBe('1,234,567');
    expect(pt.num(12.345)).toBe('12,345');
    expect(pt.num(6479167.742)).toBe('6.479.168');
    expect(pt.exact(6479167.742)).toBe('6.479.167,742');
    expect(pt.usd(22.04)).toMatch(/^US\$\s?22,04$/);
    expect(en.usd(22.04)).toBe('$22.04');
    expect(en.usd(0.000407)).toBe('$0.000407');
    expect(pt.percent(91.97)).toMatch(/^92%|^91,97?%|^92,0%/);
    expect(en.percent(8.8)).toBe('8.8%');
    expect(pt.day('2026-11-05')).toBe('05/11');
    expect(en.day('2026-11-05')).toBe('11/05');
  });

  it('defaults to pt-BR and persists the switch to English', async () => {
    function Probe() {
      const { t, setLocale, locale } = useI18n();
      return (
        <button type="button" onClick={() => setLocale(locale() === 'en' ? 'pt-BR' : 'en')}>
          {t('nav.people')}
        </button>
      );
    }
    const { unmount } = render(() => (
      <I18nProvider>
        <Probe />
      </I18nProvider>
    ));
    expect(screen.getByRole('button').textContent).toBe('Pessoas');
    fireEvent.click(screen.getByRole('button'));
    expect(screen.getByRole('button').textContent).toBe('People');
    expect(localStorage.getItem('tcc.locale')).toBe('en');
    unmount();
    render(() => (
      <I18nProvider>
        <Probe />
      </I18nProvider>
    ));
    expect(screen.getByRole('button').textContent).toBe('People');
  });
});
