import { createSignal, onMount, Show } from 'solid-js';
import { LocaleSwitch } from '../components/Layout';
import type { PortalMe } from './api';
import { Activity } from './Activity';
import { BalanceCard } from './BalanceCard';
import { BuyCard } from './BuyCard';
import { usePortalI18n } from './i18n';
import { KeyCard } from './KeyCard';

/** The signed-in person's page: balance and next step first, then usage, statement, key. */
export function Home(props: { me: PortalMe; refetch: () => void; logout: () => void }) {
  const { p } = usePortalI18n();
  const [checkout, setCheckout] = createSignal<'success' | 'cancel' | null>(null);
  const [version, setVersion] = createSignal(0);
  onMount(() => {
    const c = new URLSearchParams(location.search).get('checkout');
    if (c === 'success' || c === 'cancel') {
      setCheckout(c);
      history.replaceState(null, '', '/me');
    }
  });
  const changed = () => {
    props.refetch();
    setVersion((v) => v + 1);
  };
  return (
    <div class="portal">
      <header class="topbar portal-top">
        <span class="brand">
          <span class="brand-mark">◆</span> <span class="brand-text">{p('title')}</span>
        </span>
        <div class="topbar-right">
          <span class="who" data-testid="who">
            <span class="who-label">{props.me.person.name}</span>
          </span>
          <LocaleSwitch />
          <button type="button" class="btn btn-small btn-ghost" onClick={() => props.logout()}>{p('logout')}</button>
        </div>
      </header>
      <main class="portal-main">
        <Show when={checkout()}>
          {(c) => <p class={`notice ${c() === 'success' ? 'notice-ok' : ''}`} role="status">{p(c() === 'success' ? 'buy.success' : 'buy.cancel')}</p>}
        </Show>
        <BalanceCard me={props.me} />
        <BuyCard me={props.me} />
        <Activity version={version()} />
        <KeyCard me={props.me} onChanged={changed} />
      </main>
    </div>
  );
}
