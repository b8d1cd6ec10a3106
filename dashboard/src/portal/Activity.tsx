import { createResource, createSignal, Show } from 'solid-js';
import { Badge, OutcomeBadge, ThresholdBadge } from '../components/Badge';
import { EntryReason } from '../components/EntryReason';
import { BarChart, HBars, lastDays } from '../components/BarChart';
import { ItemList } from '../components/ItemList';
import { Empty, Load } from '../components/Load';
import { PagedTable } from '../components/PagedTable';
import { usePortalApi } from './api';
import { usePortalI18n } from './i18n';

const since30 = () => new Date(Date.now() - 30 * 86_400_000).toISOString().slice(0, 10);

/** Usage by day and model, the statement (with CSV), past warnings and purchases. */
export function Activity(props: { version: number }) {
  const api = usePortalApi();
  const { p, t, fmt, money } = usePortalI18n();
  const [page, setPage] = createSignal(1);
  const [byDay] = createResource(() => props.version, () => api.usage('day', since30()));
  const [byModel] = createResource(() => props.version, () => api.usage('model', since30()));
  const [ledger, { refetch }] = createResource(() => ({ page: page(), v: props.version }), (q) => api.ledger(q.page));
  const [alerts] = createResource(() => props.version, () => api.alerts());
  const [purchases] = createResource(() => props.version, () => api.payments());
  return (
    <>
      <section class="card">
        <h2>{p('usage.title')}</h2>
        <Load>
          <Show when={byDay() && byModel()}>
            <Show when={byDay()!.items.length} fallback={<Empty>{p('usage.none')}</Empty>}>
              <h3 class="small muted">{p('usage.byDay')}</h3>
              <BarChart points={byDay()!.items.map((i) => ({ x: i.day!, series: 'tokens', value: i.credits }))} xs={lastDays(30)} xLabel={fmt().day} height={160} />
              <h3 class="small muted">{p('usage.byModel')}</h3>
              <HBars items={byModel()!.items.map((i) => ({ label: `${i.model} · ${p('usage.calls', { n: fmt().num(i.calls) })}`, value: i.credits }))} />
            </Show>
          </Show>
        </Load>
      </section>
      <section class="card">
        <div class="card-head">
          <h2>{p('ledger.title')}</h2>
          <a class="btn btn-small" href={api.csvUrl} download="statement.csv">⤓ {p('ledger.csv')}</a>
        </div>
        <PagedTable data={ledger} retry={refetch} onPage={setPage} class="table compact" testid="statement">
          {(e) => (
            <tr>
              <td class="nowrap">{fmt().dateTime(e.createdAt)}</td>
              <td><span class={`kind kind-${e.kind}`}>{t(`kind.${e.kind}`)}</span> <OutcomeBadge outcome={e.outcome} /></td>
              <td class={`num ${e.amount < 0 ? 'neg' : 'pos'}`}>{e.amount > 0 ? '+' : ''}{fmt().exact(e.amount)}</td>
              <td class="hide-sm ellipsis muted"><EntryReason entry={e} /></td>
            </tr>
          )}
        </PagedTable>
      </section>
      <div class="grid-2">
        <section class="card">
          <h2>{p('alerts.title')}</h2>
          <Load>
            <Show when={alerts()}>
              {(a) => (
                <ItemList items={a().items} empty={p('alerts.none')}>
                  {(al) => (
                    <>
                      <ThresholdBadge threshold={al.threshold}>{p('alerts.item', { t: al.threshold })}</ThresholdBadge>
                      <span class="muted small">{fmt().dateTime(al.createdAt)}</span>
                    </>
                  )}
                </ItemList>
              )}
            </Show>
          </Load>
        </section>
        <section class="card">
          <h2>{p('payments.title')}</h2>
          <Load>
            <Show when={purchases()}>
              {(ps) => (
                <ItemList items={ps().items}>
                  {(pay) => (
                    <>
                      <Badge tone={pay.status === 'paid' ? 'ok' : 'muted'}>{p(`pay.${pay.status}`)}</Badge>
                      <span>{pay.packName} · {money(pay.amountMinor, pay.currency)}</span>
                      <span class="muted small">{fmt().date(pay.createdAt)}</span>
                    </>
                  )}
                </ItemList>
              )}
            </Show>
          </Load>
        </section>
      </div>
    </>
  );
}
