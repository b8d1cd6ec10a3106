import { A } from '@solidjs/router';
import { createResource, createSignal, For, Show } from 'solid-js';
import { isNotFound, useApi } from '../api/client';
import type { PersonState } from '../api/types';
import { Badge, StateBadge, ThresholdBadge } from '../components/Badge';
import { BarChart, lastDays } from '../components/BarChart';
import { ItemList } from '../components/ItemList';
import { Empty, Load } from '../components/Load';
import { useI18n } from '../i18n';
import { RevenueCard } from './Payments';

const STATES: PersonState[] = ['active', 'warned', 'blocked', 'suspended'];

export default function Overview() {
  const api = useApi();
  const { t, fmt } = useI18n();
  const [days, setDays] = createSignal(30);
  const [stats, { refetch: refetchStats }] = createResource(() => api.stats());
  const [daily, { refetch: refetchDaily }] = createResource(days, (d) => api.daily(d));
  const [alerts, { refetch: refetchAlerts }] = createResource(() => api.alerts({ pageSize: 5 }));
  const [ready] = createResource(() => api.ready().catch(() => null));
  const [recon] = createResource(() => api.reconciliation().catch((e) => (isNotFound(e) ? undefined : Promise.reject(e))));

  return (
    <div class="page">
      <h1>{t('overview.title')}</h1>
      <Load retry={refetchStats}>
        <Show when={stats()}>
          {(s) => (
            <>
              <section class="kpis">
                <For each={STATES}>
                  {(st) => (
                    <A class={`kpi kpi-${st}`} href={`/people?status=${st}`}>
                      <span class="kpi-label">
                        <StateBadge state={st} />
                      </span>
                      <span class="kpi-value">{fmt().num(s().people[st])}</span>
                    </A>
                  )}
                </For>
                <div class="kpi">
                  <span class="kpi-label">{t('overview.today')}</span>
                  <span class="kpi-value">{fmt().compact(s().today.credits)}</span>
                  <span class="kpi-sub">{fmt().usd(s().today.usd)}</span>
                </div>
                <div class="kpi">
                  <span class="kpi-label">{t('overview.period')}</span>
                  <span class="kpi-value">{fmt().compact(s().period.credits)}</span>
                  <span class="kpi-sub">
                    {fmt().usd(s().period.usd)} · {t('overview.calls', { n: fmt().num(s().period.calls) })}
                  </span>
                </div>
              </section>

              <Show when={s().unpricedModels.length}>
                <section class="card" data-testid="unpriced">
                  <h2>{t('overview.unpricedTitle')}</h2>
                  <p class="warn-text">{t('overview.unpricedText')}</p>
                  <ul>
                    <For each={s().unpricedModels}>
                      {(m) => <li>{t('overview.unpricedItem', { model: m.model, n: fmt().num(m.calls), date: fmt().dateTime(m.lastSeen) })}</li>}
                    </For>
                  </ul>
                </section>
              </Show>

              <div class="grid-2">
                <section class="card">
                  <h2>{t('overview.top')}</h2>
                  <Show when={s().topConsumers.length} fallback={<Empty />}>
                    <table class="table compact">
                      <tbody>
                        <For each={s().topConsumers}>
                          {(c) => (
                            <tr>
                              <td>
                                <A href={`/people/${c.userId}`}>{c.name}</A>
                                <div class="muted small">{c.email}</div>
                              </td>
                              <td class="num">{fmt().num(c.credits)}</td>
                              <td class="num muted">{fmt().usd(c.usd)}</td>
                            </tr>
                          )}
                        </For>
                      </tbody>
                    </table>
                  </Show>
                </section>
                <section class="card">
                  <h2>{t('overview.sync')}</h2>
                  <dl class="facts">
                    <dt>{t('overview.litellm')}</dt>
                    <dd>
                      <Show when={ready()} fallback={<Badge>?</Badge>}>
                        {(r) => (
                          <Show
                            when={r().checks.litellm?.configured !== false}
                            fallback={<Badge tone="warn">{t('overview.notConfigured')}</Badge>}
                          >
                            <Badge tone={r().checks.litellm?.ok ? 'ok' : 'bad'}>
                              {r().checks.litellm?.ok ? t('overview.reachable') : t('overview.unreachable')}
                            </Badge>
                          </Show>
                        )}
                      </Show>
                    </dd>
                    <dt>{t('overview.outbox')}</dt>
                    <dd>
                      <Show when={ready()?.checks.outbox} fallback="—">
                        {(o) => (
                          <>
                            <Badge tone={(o().pending ?? 0) === 0 ? 'ok' : (o().oldestSeconds ?? 0) > 300 ? 'bad' : 'warn'}>
                              {t('overview.pending', { n: fmt().num(o().pending ?? 0) })}
                            </Badge>
                            <Show when={(o().pending ?? 0) > 0}>
                              <span class="muted small"> {t('overview.oldest', { s: fmt().num(o().oldestSeconds ?? 0) })}</span>
                            </Show>
                          </>
                        )}
                      </Show>
                    </dd>
                    <dt>{t('overview.reconciliation')}</dt>
                    <dd>
                      <Show when={recon.state === 'ready' || recon.state === 'errored'} fallback="…">
                        <Show when={!recon.error} fallback={<span class="muted small">{t('common.error')}</span>}>
                          <Show when={recon() !== undefined} fallback={<span class="muted small">{t('common.unavailable')}</span>}>
                            <Show when={recon()?.lastRun} fallback={t('overview.never')}>
                              {(run) => (
                                <>
                                  {fmt().dateTime(run().finishedAt ?? run().startedAt)}{' '}
                                  <Badge tone={run().unexplained ? 'bad' : run().recovered || run().repushed ? 'warn' : 'ok'}>
                                    {t('overview.reconStats', {
                                      checked: fmt().num(run().keysChecked),
                                      fixed: fmt().num(run().recovered + run().repushed),
                                      unexplained: fmt().num(run().unexplained),
                                    })}
                                  </Badge>
                                </>
                              )}
                            </Show>
                          </Show>
                        </Show>
                      </Show>
                    </dd>
                    <dt>{t('overview.unattributed')}</dt>
                    <dd>
                      <Badge tone={s().unattributedEvents ? 'warn' : 'ok'}>{fmt().num(s().unattributedEvents)}</Badge>
                    </dd>
                    <dt title={t('overview.lateHint')}>{t('overview.late')}</dt>
                    <dd>
                      <Badge tone={s().lateEventsThisPeriod ? 'warn' : 'ok'}>{fmt().num(s().lateEventsThisPeriod)}</Badge>
                    </dd>
                  </dl>
                </section>
              </div>
            </>
          )}
        </Show>
      </Load>

      <section class="card">
        <div class="card-head">
          <h2>{t('overview.daily')}</h2>
          <div class="seg">
            <For each={[30, 90]}>
              {(d) => (
                <button type="button" classList={{ active: days() === d }} onClick={() => setDays(d)}>
                  {t('overview.days', { n: d })}
                </button>
              )}
            </For>
          </div>
        </div>
        <Load retry={refetchDaily}>
          <Show when={daily()}>
            {(d) => (
              <Show when={d().items.length} fallback={<Empty>{t('overview.noUsage')}</Empty>}>
                <BarChart points={d().items.map((i) => ({ x: i.day, series: i.model, value: i.credits }))} xs={lastDays(days())} xLabel={fmt().day} />
              </Show>
            )}
          </Show>
        </Load>
      </section>

      <RevenueCard />

      <section class="card">
        <div class="card-head">
          <h2>{t('overview.alerts')}</h2>
          <A href="/alerts" class="small">
            {t('nav.alerts')} →
          </A>
        </div>
        <Load retry={refetchAlerts}>
          <Show when={alerts()}>
            {(a) => (
              <ItemList items={a().items} empty={t('alerts.empty')}>
                {(al) => (
                  <>
                    <ThresholdBadge threshold={al.threshold} />
                    <A href={`/people/${al.userId}`}>{al.name || al.email}</A>
                    <span class="muted small">{fmt().dateTime(al.createdAt)}</span>
                  </>
                )}
              </ItemList>
            )}
          </Show>
        </Load>
      </section>
    </div>
  );
}
