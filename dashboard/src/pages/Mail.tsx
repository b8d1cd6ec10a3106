import { createResource, createSignal, For, Show } from 'solid-js';
import { useApi } from '../api/client';
import { Badge } from '../components/Badge';
import { Empty, Load } from '../components/Load';
import { Pager } from '../components/Pager';
import { useI18n, type MessageKey } from '../i18n';

export default function Mail() {
  const api = useApi();
  const { t, fmt } = useI18n();
  const mailStatus = (s: string) => (['logged', 'queued', 'sent', 'failed', 'none'].includes(s) ? t(`mailStatus.${s}` as MessageKey) : s);
  const [page, setPage] = createSignal(1);
  const [mail, { refetch }] = createResource(page, (p) => api.mail({ page: p, pageSize: 50 }));
  return (
    <div class="page">
      <h1>{t('mail.title')}</h1>
      <section class="card flush">
        <Load retry={refetch}>
          <Show when={mail.latest}>
            {(res) => (
              <Show when={res().items.length} fallback={<Empty>{t('mail.empty')}</Empty>}>
                <div class="table-wrap" classList={{ stale: mail.loading }}>
                  <table class="table">
                    <thead>
                      <tr>
                        <th>{t('common.date')}</th>
                        <th>{t('mail.to')}</th>
                        <th>{t('mail.subject')}</th>
                        <th class="hide-sm">{t('mail.template')}</th>
                        <th>{t('common.status')}</th>
                      </tr>
                    </thead>
                    <tbody>
                      <For each={res().items}>
                        {(m) => (
                          <tr>
                            <td class="nowrap">{fmt().dateTime(m.createdAt)}</td>
                            <td class="ellipsis">{m.to}</td>
                            <td>{m.subject}</td>
                            <td class="hide-sm"><code>{m.template}</code></td>
                            <td>
                              <Badge tone={m.status === 'sent' ? 'ok' : m.status === 'failed' ? 'bad' : 'muted'}>{mailStatus(m.status)}</Badge>
                              <Show when={m.error}>
                                <div class="small form-error">{m.error}</div>
                              </Show>
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
