import { createResource, createSignal, Show } from 'solid-js';
import { useApi } from '../../api/client';
import type { CreditPack } from '../../api/types';
import { useI18n } from '../../i18n';
import { formatMinor } from '../../lib/money';
import { useSession } from '../../session';
import { Badge } from '../Badge';
import { DataTable } from '../DataTable';
import { createAction, FormError, withToast } from '../form';
import { Empty, Load } from '../Load';
import { useToast } from '../Toasts';

const int = (s: string) => Number(s.replace(/[.,\s]/g, ''));

/** Credit packs sold in the portal: add, edit price/tokens, activate/deactivate. */
export function PacksSettings() {
  const api = useApi();
  const toast = useToast();
  const session = useSession();
  const { t, fmt, locale } = useI18n();
  const [packs, { refetch }] = createResource(() => api.packs());
  const [form, setForm] = createSignal({ name: '', tokens: '', price: '', currency: 'brl' });
  const [editing, setEditing] = createSignal<{ id: string; tokens: string; price: string } | null>(null);
  const action = createAction();
  const set = (k: 'name' | 'tokens' | 'price' | 'currency') => (e: { currentTarget: HTMLInputElement }) => setForm({ ...form(), [k]: e.currentTarget.value });
  const saved = () => {
    toast.ok(t('packs.saved'));
    void refetch();
  };
  const create = action.submit(async () => {
    const f = form();
    await api.createPack({ name: f.name.trim(), tokens: int(f.tokens), priceMinor: int(f.price), currency: f.currency.trim() });
    setForm({ name: '', tokens: '', price: '', currency: f.currency });
    saved();
  });
  const save = (p: CreditPack, patch: { tokens?: number; priceMinor?: number; active?: boolean }) =>
    withToast(toast, async () => {
      await api.updatePack(p.id, patch);
      setEditing(null);
      saved();
    });
  return (
    <section class="card" id="packs">
      <h2>{t('packs.title')}</h2>
      <p class="muted small">{t('packs.help')}</p>
      <Load retry={refetch}>
        <Show when={packs()}>
          {(ps) => (
            <Show when={ps().items.length} fallback={<Empty />}>
              <DataTable
                items={ps().items}
                class="table compact"
                testid="packs"
                head={
                  <>
                    <th>{t('common.name')}</th>
                    <th class="num">{t('packs.tokens')}</th>
                    <th class="num">{t('payments.amount')}</th>
                    <th>{t('common.status')}</th>
                    <Show when={session.isAdmin()}><th /></Show>
                  </>
                }
              >
                {(p) => (
                  <tr>
                    <td>{p.name}</td>
                    <Show
                      when={editing()?.id === p.id}
                      fallback={
                        <>
                          <td class="num">{fmt().num(p.tokens)}</td>
                          <td class="num">{formatMinor(locale(), p.priceMinor, p.currency)}</td>
                        </>
                      }
                    >
                      <td class="num"><input aria-label={t('packs.tokens')} inputmode="numeric" value={editing()!.tokens} onInput={(e) => setEditing({ ...editing()!, tokens: e.currentTarget.value })} /></td>
                      <td class="num"><input aria-label={t('packs.price')} inputmode="numeric" value={editing()!.price} onInput={(e) => setEditing({ ...editing()!, price: e.currentTarget.value })} /></td>
                    </Show>
                    <td><Badge tone={p.active ? 'ok' : 'muted'}>{p.active ? t('settings.active') : '—'}</Badge></td>
                    <Show when={session.isAdmin()}>
                      <td class="nowrap right">
                        <Show
                          when={editing()?.id === p.id}
                          fallback={
                            <>
                              <button type="button" class="btn btn-small" onClick={() => setEditing({ id: p.id, tokens: String(p.tokens), price: String(p.priceMinor) })}>{t('settings.edit')}</button>{' '}
                              <button type="button" class="btn btn-small btn-ghost" onClick={() => void save(p, { active: !p.active })}>{p.active ? t('settings.deactivate') : t('settings.activate')}</button>
                            </>
                          }
                        >
                          <button type="button" class="btn btn-small btn-primary" onClick={() => void save(p, { tokens: int(editing()!.tokens), priceMinor: int(editing()!.price) })}>{t('common.save')}</button>{' '}
                          <button type="button" class="btn btn-small" onClick={() => setEditing(null)}>{t('common.cancel')}</button>
                        </Show>
                      </td>
                    </Show>
                  </tr>
                )}
              </DataTable>
            </Show>
          )}
        </Show>
      </Load>
      <Show when={session.isAdmin()}>
        <form class="row-fields" onSubmit={create}>
          <label class="field"><span>{t('common.name')}</span><input name="pack-name" required value={form().name} onInput={set('name')} /></label>
          <label class="field"><span>{t('packs.tokens')}</span><input name="pack-tokens" required inputmode="numeric" value={form().tokens} onInput={set('tokens')} /></label>
          <label class="field"><span>{t('packs.price')}</span><input name="pack-price" required inputmode="numeric" value={form().price} onInput={set('price')} /></label>
          <label class="field"><span>{t('packs.currency')}</span><input name="pack-currency" required size="4" pattern="[A-Za-z]{3}" value={form().currency} onInput={set('currency')} /></label>
          <button type="submit" class="btn">{t('packs.add')}</button>
        </form>
        <FormError error={action.error()} />
      </Show>
    </section>
  );
}
