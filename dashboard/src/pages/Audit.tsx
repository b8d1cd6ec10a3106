import { A } from '@solidjs/router';
import { createResource, createSignal, For, Show } from 'solid-js';
import { useApi } from '../api/client';
import { PagedList } from '../components/PagedTable';
import { debounced } from '../lib/debounce';
import { diff, show } from '../lib/diff';
import { useI18n } from '../i18n';

export default function Audit() {
  const api = useApi();
  const { t, fmt } = useI18n();
  const [page, setPage] = createSignal(1);
  const [action, setAction] = createSignal('');
  const [target, setTarget] = createSignal('');
  const [audit, { refetch }] = createResource(
    () => ({ page: page(), pageSize: 30, action: action() || undefined, targetId: target() || undefined }),
    (q) => api.audit(q),
  );
  const setActionLater = debounced((v: string) => (setAction(v.trim()), setPage(1)), 300);
  const setTargetLater = debounced((v: string) => (setTarget(v.trim()), setPage(1)), 300);
  return (
    <div class="page">
      <h1>{t('audit.title')}</h1>
      <div class="filters card">
        <input placeholder={`${t('audit.action')} (user.create…)`} aria-label={t('audit.action')} onInput={(e) => setActionLater(e.currentTarget.value)} />
        <input placeholder={`${t('audit.target')} (usr_…)`} aria-label={t('audit.target')} onInput={(e) => setTargetLater(e.currentTarget.value)} />
      </div>
      <section class="card flush">
        <PagedList data={audit} retry={refetch} empty={t('audit.empty')} onPage={setPage}>
          {(items) => (
            <ul class="audit-list" classList={{ stale: audit.loading }}>
              <For each={items()}>
                {(e) => (
                  <li>
                    <div class="audit-head">
                      <code class="strong">{e.action}</code>
                      <Show when={e.targetId}>
                        {(id) => (e.targetType === 'user' ? <A href={`/people/${id()}`}>{id()}</A> : <span class="muted">{e.targetType ? `${e.targetType} ${id()}` : id()}</span>)}
                      </Show>
                      <span class="muted small">{e.actor}</span>
                      <span class="muted small right-push">{fmt().dateTime(e.createdAt)}</span>
                    </div>
                    <Show when={diff(e.before, e.after).length}>
                      <details>
                        <summary class="small">
                          {t('audit.changes')} ({diff(e.before, e.after).length})
                        </summary>
                        <table class="table compact diff">
                          <thead>
                            <tr>
                              <th>{t('audit.field')}</th>
                              <th>{t('audit.before')}</th>
                              <th>{t('audit.after')}</th>
                            </tr>
                          </thead>
                          <tbody>
                            <For each={diff(e.before, e.after)}>
                              {(d) => (
                                <tr>
                                  <td><code>{d.path}</code></td>
                                  <td class="diff-before">{show(d.before)}</td>
                                  <td class="diff-after">{show(d.after)}</td>
                                </tr>
                              )}
                            </For>
                          </tbody>
                        </table>
                      </details>
                    </Show>
                  </li>
                )}
              </For>
            </ul>
          )}
        </PagedList>
      </section>
    </div>
  );
}
