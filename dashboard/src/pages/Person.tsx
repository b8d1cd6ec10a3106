import { A, useNavigate, useParams } from '@solidjs/router';
import { createMemo, createResource, createSignal, For, Show } from 'solid-js';
import { isNotFound, useApi } from '../api/client';
import type { User } from '../api/types';
import { mailStatusText, StateBadge, ThresholdBadge } from '../components/Badge';
import { BarChart, HBars, lastDays } from '../components/BarChart';
import { CreditsModal } from '../components/CreditsModal';
import { DeleteModal } from '../components/DeleteModal';
import { Gauge } from '../components/Gauge';
import { KeyPanel } from '../components/KeyPanel';
import { Ledger, rangeQuery } from '../components/Ledger';
import { ItemList } from '../components/ItemList';
import { withToast } from '../components/form';
import { Empty, Load } from '../components/Load';
import { useToast } from '../components/Toasts';
import { useI18n } from '../i18n';
import { projectExhaustion } from '../lib/projection';
import { useSession } from '../session';

const today = () => new Date().toISOString().slice(0, 10);
const daysAgo = (n: number) => new Date(Date.now() - n * 86_400_000).toISOString().slice(0, 10);

export default function Person() {
  const params = useParams();
  const api = useApi();
  const toast = useToast();
  const session = useSession();
  const navigate = useNavigate();
  const { t, fmt } = useI18n();
  const [version, setVersion] = createSignal(0);
  const [user, { refetch, mutate }] = createResource(() => params.id ?? '', (id) => api.user(id));
  const [from, setFrom] = createSignal(daysAgo(29));
  const [to, setTo] = createSignal(today());
  const [groupBy, setGroupBy] = createSignal<'day' | 'model'>('day');
  const [usage, { refetch: refetchUsage }] = createResource(
    () => ({ id: params.id ?? '', groupBy: groupBy(), ...rangeQuery(from(), to()), v: version() }),
    ({ id, v: _v, ...q }) => api.usage(id, q),
  );
  const [recent] = createResource(
    () => ({ id: params.id ?? '', v: version() }),
    ({ id }) => api.usage(id, { groupBy: 'day', from: daysAgo(7) }).catch(() => ({ groupBy: 'day', items: [] })),
  );
  const [alerts] = createResource(
    () => params.id ?? '',
    (id) => api.alerts({ userId: id, pageSize: 10 }).catch((e) => (isNotFound(e) ? null : Promise.reject(e))),
  );
  const [plans] = createResource(() => api.plans().then((r) => r.items.filter((p) => p.active)).catch(() => []));
  const [modal, setModal] = createSignal<'credits' | 'delete' | null>(null);
  const [planChoice, setPlanChoice] = createSignal('');

  const changed = (u?: User) => {
    if (u) mutate(u);
    else void refetch();
    setVersion((v) => v + 1);
  };
  const projected = createMemo(() => {
    const u = user.latest;
    const r = recent.latest;
    if (!u || !r) return null;
    return projectExhaustion(u.balance.credits, r.items.map((i) => ({ day: String(i.day), credits: i.credits })), new Date());
  });
  const changePlan = async () => {
    const u = user();
    if (!u || !planChoice() || planChoice() === u.plan.slug) return;
    await withToast(toast, async () => {
      changed(await api.updateUser(u.id, { plan: planChoice() }));
      toast.ok(`${t('person.planChanged')} ${t('person.planNote')}`);
    });
  };

  return (
    <div class="page">
      <A href="/people" class="back">
        ← {t('nav.people')}
      </A>
      <Load retry={refetch}>
        <Show when={user.latest}>
          {(u) => (
            <>
              <div class="page-head">
                <div>
                  <h1>
                    {u().name} <StateBadge state={u().balance.state} />
                  </h1>
                  <div class="muted">
                    {u().email} · {u().plan.name} · {t('person.period', { period: u().balance.period })}
                  </div>
                </div>
                <Show when={session.isAdmin() && u().status !== 'deleted'}>
                  <div class="actions">
                    <button type="button" class="btn btn-primary" onClick={() => setModal('credits')}>
                      + {t('person.addCredits')}
                    </button>
                    <button type="button" class="btn btn-danger-ghost" onClick={() => setModal('delete')}>
                      {t('person.delete')}
                    </button>
                  </div>
                </Show>
              </div>

              <div class="grid-person">
                <section class="card">
                  <h2>{t('person.balance')}</h2>
                  <div class="balance-total" data-testid="balance">
                    {fmt().num(u().balance.credits)} <span class="muted">{t('unit.tokens')}</span>
                  </div>
                  <Gauge balance={u().balance} />
                  <p class="muted small">
                    <Show when={projected()} fallback={t('person.noProjection')}>
                      {(d) => t('person.projected', { date: fmt().date(d()) })}
                    </Show>
                  </p>
                </section>
                <KeyPanel user={u()} onChanged={() => changed()} />
                <section class="card">
                  <h2>{t('person.plan')}</h2>
                  <p>
                    <b>{u().plan.name}</b> · {fmt().num(u().plan.monthlyCredits)} {t('settings.monthly').toLowerCase()}
                  </p>
                  <Show when={session.isAdmin() && u().status !== 'deleted'}>
                    <div class="row-fields">
                      <select aria-label={t('person.changePlan')} value={planChoice() || u().plan.slug} onChange={(e) => setPlanChoice(e.currentTarget.value)}>
                        <For each={plans() ?? []}>{(p) => <option value={p.slug}>{`${p.name} (${fmt().compact(p.monthlyCredits)})`}</option>}</For>
                      </select>
                      <button type="button" class="btn" disabled={!planChoice() || planChoice() === u().plan.slug} onClick={() => void changePlan()}>
                        {t('person.changePlan')}
                      </button>
                    </div>
                    <p class="muted small">{t('person.planNote')}</p>
                  </Show>
                </section>
              </div>

              <section class="card">
                <div class="card-head">
                  <h2>{t('person.usage')}</h2>
                  <div class="filters">
                    <div class="seg">
                      <button type="button" classList={{ active: groupBy() === 'day' }} onClick={() => setGroupBy('day')}>{t('person.byDay')}</button>
                      <button type="button" classList={{ active: groupBy() === 'model' }} onClick={() => setGroupBy('model')}>{t('person.byModel')}</button>
                    </div>
                    <input type="date" aria-label={t('common.from')} value={from()} onChange={(e) => setFrom(e.currentTarget.value)} />
                    <input type="date" aria-label={t('common.to')} value={to()} onChange={(e) => setTo(e.currentTarget.value)} />
                  </div>
                </div>
                <Load retry={refetchUsage}>
                  <Show when={usage.latest}>
                    {(us) => (
                      <Show when={us().items.length} fallback={<Empty>{t('person.noUsage')}</Empty>}>
                        <Show
                          when={us().groupBy === 'day'}
                          fallback={<HBars items={us().items.map((i) => ({ label: String(i.model), value: i.credits }))} />}
                        >
                          <BarChart
                            points={us().items.map((i) => ({ x: String(i.day), series: t('unit.tokens'), value: i.credits }))}
                            xs={from() && to() && from() <= to() ? daysBetween(from(), to()) : undefined}
                            xLabel={fmt().day}
                            height={180}
                          />
                        </Show>
                        <div class="muted small">
                          {t('person.calls')}: {fmt().num(us().items.reduce((n, i) => n + i.calls, 0))} · {t('person.usd')}:{' '}
                          {fmt().usd(us().items.reduce((n, i) => n + i.usd, 0))}
                        </div>
                      </Show>
                    )}
                  </Show>
                </Load>
              </section>

              <Ledger userId={u().id} version={version()} />

              <section class="card">
                <h2>{t('person.alerts')}</h2>
                <Load>
                  <Show when={alerts() !== undefined}>
                    <Show when={alerts()} fallback={<Empty>{t('common.unavailable')}</Empty>}>
                      {(a) => (
                        <ItemList items={a().items} empty={t('alerts.empty')}>
                          {(al) => (
                            <>
                              <ThresholdBadge threshold={al.threshold} />
                              <span>{al.period}</span>
                              <span class="muted small">{fmt().dateTime(al.createdAt)}</span>
                              <span class="muted small">{mailStatusText(t, al.emailStatus)}</span>
                            </>
                          )}
                        </ItemList>
                      )}
                    </Show>
                  </Show>
                </Load>
              </section>

              <Show when={modal() === 'credits'}>
                <CreditsModal user={u()} onClose={() => setModal(null)} onDone={(nu) => changed(nu)} />
              </Show>
              <Show when={modal() === 'delete'}>
                <DeleteModal user={u()} onClose={() => setModal(null)} onDone={() => navigate('/people')} />
              </Show>
            </>
          )}
        </Show>
      </Load>
    </div>
  );
}

function daysBetween(from: string, to: string): string[] {
  const n = Math.min(366, Math.round((Date.parse(to) - Date.parse(from)) / 86_400_000) + 1);
  return lastDays(n, new Date(Date.parse(`${to}T12:00:00Z`)));
}
