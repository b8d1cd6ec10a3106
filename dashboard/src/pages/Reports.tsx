import { createMemo, createResource, createSignal, For, Show } from 'solid-js';
import { useApi } from '../api/client';
import { BarChart } from '../components/BarChart';
import { DataTable } from '../components/DataTable';
import { rangeQuery } from '../components/Ledger';
import { Empty, Load } from '../components/Load';
import { aggregate, parseUsageCsv } from '../lib/report';
import { useI18n, type MessageKey } from '../i18n';

const ymd = (d: Date) => d.toISOString().slice(0, 10);

export default function Reports() {
  const api = useApi();
  const { t, fmt } = useI18n();
  const now = new Date();
  const [from, setFrom] = createSignal(ymd(new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1))));
  const [to, setTo] = createSignal(ymd(now));
  const [by, setBy] = createSignal<'person' | 'model' | 'day'>('person');
  const q = () => rangeQuery(from(), to());
  const [csv, { refetch }] = createResource(q, (query) => api.usageCsv(query));
  const rows = createMemo(() => (csv.latest ? parseUsageCsv(csv.latest) : []));
  const agg = createMemo(() => aggregate(rows(), by()));
  const labels: Record<'person' | 'model' | 'day', MessageKey> = { person: 'reports.byPerson', model: 'reports.byModel', day: 'reports.byDay' };
  return (
    <div class="page">
      <div class="page-head">
        <h1>{t('reports.title')}</h1>
        <a class="btn btn-primary" href={api.usageCsvUrl(q())} download="usage.csv">
          ⤓ {t('reports.download')}
        </a>
      </div>
      <div class="filters card">
        <label class="inline">
          {t('common.from')} <input type="date" value={from()} onChange={(e) => setFrom(e.currentTarget.value)} />
        </label>
        <label class="inline">
          {t('common.to')} <input type="date" value={to()} onChange={(e) => setTo(e.currentTarget.value)} />
        </label>
        <div class="seg">
          <For each={['person', 'model', 'day'] as const}>
            {(b) => (
              <button type="button" classList={{ active: by() === b }} onClick={() => setBy(b)}>
                {t(labels[b])}
              </button>
            )}
          </For>
        </div>
      </div>
      <section class="card flush">
        <Load retry={refetch}>
          <Show when={csv.latest !== undefined}>
            <Show when={agg().length} fallback={<Empty>{t('reports.empty')}</Empty>}>
              <Show when={by() === 'day'}>
                <div class="pad">
                  <BarChart points={rows().map((r) => ({ x: r.day, series: r.model, value: r.credits }))} xLabel={fmt().day} height={200} />
                </div>
              </Show>
              <DataTable
                items={agg()}
                stale={csv.loading}
                head={
                  <>
                    <th>{t(by() === 'person' ? 'reports.person' : by() === 'model' ? 'person.model' : 'person.day')}</th>
                    <th class="num">{t('person.calls')}</th>
                    <th class="num hide-sm">{t('person.tokensCol')}</th>
                    <th class="num">{t('unit.tokens')}</th>
                    <th class="num">{t('person.usd')}</th>
                  </>
                }
              >
                {(a) => (
                  <tr>
                    <td>
                      {by() === 'day' ? fmt().date(`${a.key}T12:00:00Z`) : a.label}
                      <Show when={by() === 'person'}>
                        <div class="muted small">{a.key}</div>
                      </Show>
                    </td>
                    <td class="num">{fmt().num(a.calls)}</td>
                    <td class="num hide-sm">{fmt().num(a.tokens)}</td>
                    <td class="num">{fmt().num(Math.round(a.credits * 1000) / 1000)}</td>
                    <td class="num">{fmt().usd(a.usd)}</td>
                  </tr>
                )}
              </DataTable>
            </Show>
          </Show>
        </Load>
      </section>
    </div>
  );
}
