import { createResource, createSignal, For, Show } from 'solid-js';
import { Load } from '../components/Load';
import { useToast } from '../components/Toasts';
import { usePortalApi, type PortalMe } from './api';
import { helpText } from './BalanceCard';
import { usePortalI18n } from './i18n';

/** How to get more tokens: packs to buy (Stripe Checkout), or the admin's words / whom to ask when payments are off. */
export function BuyCard(props: { me: PortalMe }) {
  const api = usePortalApi();
  const toast = useToast();
  const { p, fmt, money, locale } = usePortalI18n();
  const ask = () => helpText(props.me, locale()) ?? p('buy.off', { email: props.me.contactEmail });
  const [packs, { refetch }] = createResource(() => (props.me.paymentsEnabled ? api.packs() : Promise.resolve({ paymentsEnabled: false, items: [] })));
  const [busy, setBusy] = createSignal<string>();
  const buy = async (packId: string) => {
    setBusy(packId);
    try {
      const { url } = await api.checkout(packId);
      window.location.assign(url);
    } catch (e) {
      toast.error(e);
      setBusy(undefined);
    }
  };
  return (
    <section class="card" id="buy">
      <h2>{p('buy.title')}</h2>
      <Show when={props.me.paymentsEnabled} fallback={<p data-testid="contact">{ask()}</p>}>
        <Load retry={refetch}>
          <Show when={packs()}>
            {(res) => (
              <Show when={res().items.length} fallback={<p class="muted">{p('buy.none')} {ask()}</p>}>
                <div class="packs">
                  <For each={res().items}>
                    {(pack) => (
                      <div class="pack" data-testid="pack">
                        <div class="pack-name">{pack.name}</div>
                        <div class="pack-tokens">{p('balance.tokens', { n: fmt().num(pack.tokens) })}</div>
                        <div class="pack-price">{money(pack.priceMinor, pack.currency)}</div>
                        <button type="button" class="btn btn-primary btn-block" disabled={busy() !== undefined} onClick={() => void buy(pack.id)}>
                          {busy() === pack.id ? p('buy.redirecting') : p('buy.button')}
                        </button>
                      </div>
                    )}
                  </For>
                </div>
              </Show>
            )}
          </Show>
        </Load>
      </Show>
    </section>
  );
}
