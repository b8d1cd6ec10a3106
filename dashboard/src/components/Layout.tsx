import { A } from '@solidjs/router';
import { createSignal, For, Suspense, type JSX } from 'solid-js';
import { useI18n, type Locale, type MessageKey } from '../i18n';
import { useSession } from '../session';
import { Loading } from './Load';

const NAV: { href: string; key: MessageKey; end?: boolean; adminOnly?: boolean }[] = [
  { href: '/', key: 'nav.overview', end: true },
  { href: '/people', key: 'nav.people' },
  { href: '/alerts', key: 'nav.alerts' },
  { href: '/reports', key: 'nav.reports' },
  { href: '/payments', key: 'nav.payments' },
  { href: '/mail', key: 'nav.mail' },
  { href: '/audit', key: 'nav.audit' },
  { href: '/dead-letters', key: 'nav.deadLetters', adminOnly: true },
  { href: '/settings', key: 'nav.settings' },
];

export function LocaleSwitch() {
  const { locale, setLocale } = useI18n();
  return (
    <select class="locale" aria-label="Idioma / Language" value={locale()} onChange={(e) => setLocale(e.currentTarget.value as Locale)}>
      <option value="pt-BR">PT</option>
      <option value="en">EN</option>
    </select>
  );
}

export function Layout(props: { children?: JSX.Element }) {
  const { t } = useI18n();
  const session = useSession();
  const [open, setOpen] = createSignal(false);
  return (
    <div class="shell">
      <header class="topbar">
        <button type="button" class="icon-btn menu-btn" aria-label={t('nav.menu')} aria-expanded={open()} onClick={() => setOpen(!open())}>
          ☰
        </button>
        <A href="/" class="brand">
          <span class="brand-mark">◆</span> <span class="brand-text">{t('app.title')}</span>
        </A>
        <div class="topbar-right">
          <span class="who" data-testid="who">
            <span class="who-label">{session.me().label}</span>
            <span class={`role role-${session.me().role}`}>{t(`role.${session.me().role}`)}</span>
          </span>
          <LocaleSwitch />
          <button type="button" class="btn btn-small btn-ghost" onClick={() => void session.logout()}>
            {t('auth.logout')}
          </button>
        </div>
      </header>
      <nav class={`sidenav${open() ? ' open' : ''}`} onClick={() => setOpen(false)}>
        <For each={NAV.filter((n) => !n.adminOnly || session.isAdmin())}>
          {(n) => (
            <A href={n.href} end={n.end} activeClass="active">
              {t(n.key)}
            </A>
          )}
        </For>
      </nav>
      <main class="content">
        <Suspense fallback={<Loading />}>{props.children}</Suspense>
      </main>
    </div>
  );
}
