import { createResource, createSignal, Show } from 'solid-js';
import { useApi } from '../api/client';
import { withToast } from '../components/form';
import { PagedTable } from '../components/PagedTable';
import { useToast } from '../components/Toasts';
import { useI18n } from '../i18n';

/** Dead letters (admins only): the reason, the item, one button to replay it after a fix. */
export default function DeadLetters() {
  const api = useApi();
  const toast = useToast();
  const { t, fmt } = useI18n();
  const [status, setStatus] = createSignal<'open' | 'replayed'>('open');
  const [page, setPage] = createSignal(1);
  const [busy, setBusy] = createSignal<number | null>(null);
  const [list, { refetch }] = createResource(() => ({ status: status(), page: page(), pageSize: 20 }), (q) => api.deadLetters(q));
  const replay = (id: number) =>
    withToast(toast, async () => {
      setBusy(id);
      try {
        const res = await api.replayDeadLetter(id);
        toast.ok(t('dead.done', { outcome: res.deadLetter.replayOutcome ?? '' }));
        await refetch();
      } finally {
        setBusy(null);
      }
    });
  return (
    <div class="page">
      <h1>{t('dead.title')}</h1>
      <p class="muted">{t('dead.help')}</p>
      <div class="filters">
        <select aria-label={t('common.status')} value={status()} onChange={(e) => (setStatus(e.currentTarget.value as 'open' | 'replayed'), setPage(1))}>
          <option value="open">{t('dead.open')}</option>
          <option value="replayed">{t('dead.replayed')}</option>
        </select>
      </div>
      <section class="card flush">
        <PagedTable
          data={list}
          retry={refetch}
          empty={t('dead.empty')}
          onPage={setPage}
          testid="dead-letters"
          head={
            <>
              <th>{t('common.date')}</th>
              <th>{t('dead.reason')}</th>
              <th>{t('dead.item')}</th>
              <th />
            </>
          }
        >
          {(d) => (
            <tr>
              <td class="nowrap">
                {fmt().dateTime(d.createdAt)}
                <div class="small muted">{t('dead.source')}: {d.source}</div>
              </td>
              <td>{d.reason}</td>
              <td>
                <pre class="payload small">{d.payload}</pre>
              </td>
              <td class="nowrap">
                <Show when={!d.replayedAt} fallback={<span class="small muted">{d.replayOutcome} · {d.replayedBy}</span>}>
                  <button type="button" class="btn btn-small" disabled={busy() === d.id} onClick={() => void replay(d.id)}>
                    {t('dead.replay')}
                  </button>
                </Show>
              </td>
            </tr>
          )}
        </PagedTable>
      </section>
    </div>
  );
}
