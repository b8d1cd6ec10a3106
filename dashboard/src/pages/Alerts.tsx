import { A } from '@solidjs/router';
import { createResource, createSignal } from 'solid-js';
import { useApi } from '../api/client';
import { MailStatusBadge, ThresholdBadge } from '../components/Badge';
import { PagedTable } from '../components/PagedTable';
import { UsageBar } from '../components/UsageBar';
import { useI18n } from '../i18n';

export default function Alerts() {
  const api = useApi();
  const { t, fmt } = useI18n();
  const [page, setPage] = createSignal(1);
  const [alerts, { refetch }] = createResource(page, (p) => api.alerts({ page: p, pageSize: 50 }));
  return (
    <div class="page">
      <h1>{t('alerts.title')}</h1>
      <section class="card flush">
        <PagedTable
          data={alerts}
          retry={refetch}
          empty={t('alerts.empty')}
          onPage={setPage}
          head={
            <>
              <th>{t('common.date')}</th>
              <th>{t('reports.person')}</th>
              <th>{t('alerts.threshold')}</th>
              <th class="col-usage hide-sm">{t('alerts.percent')}</th>
              <th class="hide-sm">{t('alerts.email')}</th>
            </>
          }
        >
          {(a) => (
            <tr>
              <td class="nowrap">{fmt().dateTime(a.createdAt)}</td>
              <td>
                <A href={`/people/${a.userId}`}>{a.name || a.email}</A>
                <div class="muted small">{a.email}</div>
              </td>
              <td>
                <ThresholdBadge threshold={a.threshold} /> <span class="muted small">{a.period}</span>
              </td>
              <td class="col-usage hide-sm"><UsageBar percent={a.percentUsed} /></td>
              <td class="hide-sm">
                <MailStatusBadge status={a.emailStatus} />
              </td>
            </tr>
          )}
        </PagedTable>
      </section>
    </div>
  );
}
