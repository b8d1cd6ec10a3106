import { createResource, createSignal, Show } from 'solid-js';
import { useApi } from '../api/client';
import { MailStatusBadge } from '../components/Badge';
import { PagedTable } from '../components/PagedTable';
import { useI18n } from '../i18n';

export default function Mail() {
  const api = useApi();
  const { t, fmt } = useI18n();
  const [page, setPage] = createSignal(1);
  const [mail, { refetch }] = createResource(page, (p) => api.mail({ page: p, pageSize: 50 }));
  return (
    <div class="page">
      <h1>{t('mail.title')}</h1>
      <section class="card flush">
        <PagedTable
          data={mail}
          retry={refetch}
          empty={t('mail.empty')}
          onPage={setPage}
          head={
            <>
              <th>{t('common.date')}</th>
              <th>{t('mail.to')}</th>
              <th>{t('mail.subject')}</th>
              <th class="hide-sm">{t('mail.template')}</th>
              <th>{t('common.status')}</th>
            </>
          }
        >
          {(m) => (
            <tr>
              <td class="nowrap">{fmt().dateTime(m.createdAt)}</td>
              <td class="ellipsis">{m.to}</td>
              <td>{m.subject}</td>
              <td class="hide-sm"><code>{m.template}</code></td>
              <td>
                <MailStatusBadge status={m.status} />
                <Show when={m.error}>
                  <div class="small form-error">{m.error}</div>
                </Show>
              </td>
            </tr>
          )}
        </PagedTable>
      </section>
    </div>
  );
}
