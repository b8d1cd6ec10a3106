import { Match, Show, Switch } from 'solid-js';
import { StateBadge } from '../components/Badge';
import { Gauge } from '../components/Gauge';
import type { PortalMe } from './api';
import { usePortalI18n } from './i18n';

/** The admin's own "how to get more" words (QUOTA_HELP_TEXT[_EN]) in the shown language, if any. */
export function helpText(me: PortalMe, locale: 'pt-BR' | 'en'): string | null {
  return me.getMore.text[locale]?.trim() || null;
}

/**
 * Balance, the state banner that says what to do next, and the facts a refused chat states in
 * LibreChat: used of available this month, the monthly allowance, purchased tokens, the refill day.
 */
export function BalanceCard(props: { me: PortalMe }) {
  const { p, fmt, locale } = usePortalI18n();
  const b = () => props.me.balance;
  const q = () => props.me.quota;
  const refill = () => fmt().dayLong(q().nextRefill);
  return (
    <section class="card portal-balance">
      <Switch>
        <Match when={b().state === 'blocked'}>
          <div class="banner banner-bad" role="alert" data-testid="next-step">
            <strong>{p('state.blocked.title')}</strong>
            <span>
              {helpText(props.me, locale()) ??
                (props.me.paymentsEnabled ? p('state.blocked.buy') : p('state.blocked.contact', { email: props.me.contactEmail, date: refill() }))}
            </span>
            <Show when={props.me.paymentsEnabled}>
              <a class="btn btn-primary btn-small" href="#buy">{p('buy.title')} ↓</a>
            </Show>
            <span class="small">{p('state.blocked.chat')}</span>
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
            <dt>{p('balance.used')}</dt>
            <dd data-testid="used-of">{p('balance.usedOf', { used: fmt().num(q().usedThisPeriod), available: fmt().num(q().availableThisPeriod) })}</dd>
            <dt>{p('balance.monthly', { plan: props.me.plan.name })}</dt>
            <dd>{p('balance.monthlyLeft', { allowance: fmt().num(q().monthlyAllowance), left: fmt().num(Math.max(0, b().monthlyRemaining)) })}</dd>
            <dt>{p('balance.purchased')}</dt>
            <dd data-testid="purchased">{fmt().num(b().topupRemaining)}</dd>
            <dt>{p('balance.refill')}</dt>
            <dd data-testid="refill">{p('balance.refillOn', { date: refill(), tz: q().timeZone })}</dd>
          </dl>
          <p class="muted small">
            {props.me.projectedExhaustion ? p('balance.projected', { date: fmt().date(props.me.projectedExhaustion) }) : p('balance.noProjection')}{' '}
            {p('balance.thresholds', { list: props.me.thresholds.map((t) => `${t}%`).join(', ') })}
          </p>
        </div>
        <Gauge balance={b()} />
      </div>
    </section>
  );
}
