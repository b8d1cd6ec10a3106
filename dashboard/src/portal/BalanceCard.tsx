import { Match, Show, Switch } from 'solid-js';
import { StateBadge } from '../components/Badge';
import { Gauge } from '../components/Gauge';
import type { PortalMe } from './api';
import { usePortalI18n } from './i18n';

/** Balance, the state banner that says what to do next, projection and renewal. */
export function BalanceCard(props: { me: PortalMe }) {
  const { p, fmt } = usePortalI18n();
  const b = () => props.me.balance;
  const renews = () => fmt().date(`${props.me.renewsOn}T12:00:00Z`);
  return (
    <section class="card portal-balance">
      <Switch>
        <Match when={b().state === 'blocked'}>
          <div class="banner banner-bad" role="alert" data-testid="next-step">
            <strong>{p('state.blocked.title')}</strong>
            <span>
              {props.me.paymentsEnabled ? p('state.blocked.buy') : p('state.blocked.contact', { email: props.me.contactEmail, date: renews() })}
            </span>
            <Show when={props.me.paymentsEnabled}>
              <a class="btn btn-primary btn-small" href="#buy">{p('buy.title')} ↓</a>
            </Show>
          </div>
        </Match>
        <Match when={b().state === 'suspended'}>
          <div class="banner banner-bad" role="alert">{p('state.suspended', { email: props.me.contactEmail })}</div>
        </Match>
        <Match when={b().state === 'warned'}>
          <div class="banner banner-warn" role="status">
            <strong>{p('state.warned.title', { p: fmt().percent(b().percentUsed) })}</strong>
            <Show when={props.me.paymentsEnabled}>
              <a class="btn btn-small" href="#buy">{p('buy.title')} ↓</a>
            </Show>
          </div>
        </Match>
      </Switch>
      <div class="card-head">
        <h2>{p('balance.title')}</h2>
        <StateBadge state={b().state} />
      </div>
      <div class="portal-balance-body">
        <div>
          <div class="balance-total" data-testid="balance">{p('balance.tokens', { n: fmt().num(Math.max(0, b().credits)) })}</div>
          <dl class="facts">
            <dt>{p('balance.monthly', { plan: props.me.plan.name })}</dt>
            <dd>{fmt().num(b().monthlyRemaining)}</dd>
            <dt>{p('balance.purchased')}</dt>
            <dd data-testid="purchased">{fmt().num(b().topupRemaining)}</dd>
            <dt>{p('balance.used')}</dt>
            <dd>{fmt().num(b().usedThisPeriod)}</dd>
          </dl>
          <p class="muted small">
            {props.me.projectedExhaustion ? p('balance.projected', { date: fmt().date(props.me.projectedExhaustion) }) : p('balance.noProjection')}{' '}
            {p('balance.renews', { date: renews() })}{' '}
            {p('balance.thresholds', { list: props.me.thresholds.map((t) => `${t}%`).join(', ') })}
          </p>
        </div>
        <Gauge balance={b()} />
      </div>
    </section>
  );
}
