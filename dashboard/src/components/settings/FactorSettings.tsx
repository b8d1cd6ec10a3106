import { createResource, createSignal, Show } from 'solid-js';
import { useApi } from '../../api/client';
import type { FactorPreview } from '../../api/types';
import { useI18n } from '../../i18n';
import { useSession } from '../../session';
import { DataTable } from '../DataTable';
import { createAction, FormError } from '../form';
import { Empty, Load } from '../Load';
import { useToast } from '../Toasts';

/** Conversion factor: current value, history, what-if preview, then apply with a reason. */
export function FactorSettings() {
  const api = useApi();
  const toast = useToast();
  const session = useSession();
  const { t, fmt } = useI18n();
  const [info, { refetch }] = createResource(() => api.factor());
  const [factor, setFactor] = createSignal('');
  const [reason, setReason] = createSignal('');
  const [preview, setPreview] = createSignal<FactorPreview>();
  const { busy, error, run } = createAction();
  const normalized = () => factor().trim().replace(',', '.');

  const runPreview = (e: Event) => {
    e.preventDefault();
    return run(async () => {
      setPreview(undefined);
      setPreview(await api.previewFactor(normalized()));
    });
  };
  const apply = () =>
    run(async () => {
      const r = await api.setFactor(normalized(), reason().trim());
      toast.ok(t('settings.factorSaved', { n: fmt().num(r.keysQueued) }));
      setPreview(undefined);
      setFactor('');
      setReason('');
      void refetch();
    });

  return (
    <section class="card" id="factor">
      <h2>{t('settings.factor')}</h2>
      <Load retry={refetch}>
        <Show when={info()}>
          {(i) => (
            <>
              <div class="factor-now">
                <span class="big" data-testid="factor">{i().factor}</span>
                <span class="muted small">{t('settings.factorHelp', { f: i().factor })}</span>
              </div>
              <Show when={session.isAdmin()}>
                <form class="row-fields" onSubmit={runPreview}>
                  <label class="field">
                    <span>{t('settings.newFactor')}</span>
                    <input name="factor" inputmode="decimal" required value={factor()} onInput={(e) => (setFactor(e.currentTarget.value), setPreview(undefined))} />
                  </label>
                  <button type="submit" class="btn" disabled={busy() || !normalized()}>{t('settings.preview')}</button>
                </form>
              </Show>
              <FormError error={error()} />
              <Show when={preview()}>
                {(p) => (
                  <div class="preview" data-testid="factor-preview">
                    <h3>{t('settings.previewTitle', { people: fmt().num(p().totals.people), credits: fmt().num(p().totals.remainingCredits) })}</h3>
                    <p>
                      {p().current} → <b>{p().proposed}</b> · {t('settings.usdBefore')} {fmt().usd(p().totals.usdBefore)} → {t('settings.usdAfter')}{' '}
                      <b>{fmt().usd(p().totals.usdAfter)}</b>
                    </p>
                    <DataTable
                      items={p().people.slice(0, 100)}
                      class="table compact"
                      scroll
                      head={
                        <>
                          <th>{t('common.name')}</th>
                          <th class="num">{t('unit.tokens')}</th>
                          <th class="num">{t('settings.usdBefore')}</th>
                          <th class="num">{t('settings.usdAfter')}</th>
                        </>
                      }
                    >
                      {(r) => (
                        <tr>
                          <td>
                            {r.name} <span class="muted small">{r.email}</span>
                          </td>
                          <td class="num">{fmt().num(r.remainingCredits)}</td>
                          <td class="num">{fmt().usd(r.usdBefore)}</td>
                          <td class="num">{fmt().usd(r.usdAfter)}</td>
                        </tr>
                      )}
                    </DataTable>
                    <div class="row-fields">
                      <label class="field grow">
                        <span>{t('common.reason')}</span>
                        <input name="factor-reason" maxLength={500} value={reason()} onInput={(e) => setReason(e.currentTarget.value)} />
                      </label>
                      <button type="button" class="btn btn-primary" disabled={busy() || !reason().trim()} onClick={() => void apply()}>
                        {t('settings.apply')}
                      </button>
                    </div>
                  </div>
                )}
              </Show>
              <h3>{t('settings.history')}</h3>
              <Show when={i().history.length} fallback={<Empty />}>
                <DataTable
                  items={i().history}
                  class="table compact"
                  head={
                    <>
                      <th>{t('common.date')}</th>
                      <th>{t('settings.factor')}</th>
                      <th class="hide-sm">{t('settings.previous')}</th>
                      <th>{t('common.reason')}</th>
                      <th class="hide-sm">{t('common.actor')}</th>
                    </>
                  }
                >
                  {(h) => (
                    <tr>
                      <td class="nowrap">{fmt().dateTime(h.createdAt)}</td>
                      <td><code>{h.factor}</code></td>
                      <td class="hide-sm"><code>{h.previous ?? '—'}</code></td>
                      <td>{h.reason}</td>
                      <td class="hide-sm muted">{h.actor}</td>
                    </tr>
                  )}
                </DataTable>
              </Show>
            </>
          )}
        </Show>
      </Load>
    </section>
  );
}
