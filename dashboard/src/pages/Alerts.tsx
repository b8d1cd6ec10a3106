import { A } from '@solidjs/router';
import { createResource, createSignal, For, Show } from 'solid-js';
import { useApi } from '../api/client';
import { Badge } from '../components/Badge';
import { Empty, Load } from '../components/Load';
import { Pager } from '../components/Pager';
import { UsageBar } from '../components/UsageBar';
import { useI18n, type MessageKey } from '../i18n';

export default function Alerts() {
  const api = useApi();
  const { t, fmt } = useI18n();
  const [page, setPage] = createSignal(1);
  const [alerts, { refetch }] = createResource(page, (p) => api.alerts({ page: p, pageSize: 50 }));
  return (
    <div class="page">
      <h1>{t('alerts.title')}</h1>
      <section class="card flush">
        <Load retry={refetch}>
          <Show when={alerts.latest}>
            {(res) => (
              <Show when={res().items.length} fallback={<Empty>{t('alerts.empty')}</Empty>}>
                <div class="table-wrap" classList={{ stale: alerts.loading }}>
                  <table class="table">
                    <thead>
                      <tr>
                        <th>{t('common.date')}</th>
                        <th>{t('reports.person')}</th>
                        <th>{t('alerts.threshold')}</th>
                        <th class="col-usage hide-sm">{t('alerts.percent')}</th>
                        <th class="hide-sm">{t('alerts.email')}</th>
                      </tr>
                    </thead>
                    <tbody>
                      <For each={res().items}>
                        {(a) => (
                          <tr>
                            <td class="nowrap">{fmt().dateTime(a.createdAt)}</td>
                            <td>
                              <A href={`/people/${a.userId}`}>{a.name || a.email}</A>
                              <div class="muted small">{a.email}</div>
                            </td>
                            <td>
                              <Badge tone={a.threshold >= 100 ? 'bad' : 'warn'}>{`${a.threshold}%`}</Badge> <span class="muted small">{a.period}</span>
                            </td>
                            <td class="col-usage hide-sm"><UsageBar percent={a.percentUsed} /></td>
                            <td class="hide-sm">
                              <Badge tone={a.emailStatus === 'sent' ? 'ok' : a.emailStatus === 'failed' ? 'bad' : 'muted'}>{['logged', 'queued', 'sent', 'failed', 'none'].includes(a.emailStatus) ? t(`mailStatus.${a.emailStatus}` as MessageKey) : a.emailStatus}</Badge>
                            </td>
                          </tr>
                        )}
                      </For>
                    </tbody>
                  </table>
                </div>
                <Pager page={res().page} pageSize={res().pageSize} total={res().total} onPage={setPage} />
              </Show>
            )}
          </Show>
        </Load>
      </section>
    </div>
  );
}
