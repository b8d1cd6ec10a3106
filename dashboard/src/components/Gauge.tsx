import type { Balance } from '../api/types';
import { useI18n } from '../i18n';
import { clampPercent, usageTone } from './UsageBar';

export interface GaugeSegments {
  /** Shares of the ring (0–1) for used, monthly remaining, top-up remaining. */
  used: number;
  monthly: number;
  topup: number;
}

/** Split the period's credits into used / monthly left / top-up left, as ring shares. */
export function gaugeSegments(b: Pick<Balance, 'usedThisPeriod' | 'monthlyRemaining' | 'topupRemaining'>): GaugeSegments {
  const used = Math.max(0, b.usedThisPeriod);
  const monthly = Math.max(0, b.monthlyRemaining);
  const topup = Math.max(0, b.topupRemaining);
  const total = used + monthly + topup;
  if (total <= 0) return { used: 0, monthly: 0, topup: 0 };
  return { used: used / total, monthly: monthly / total, topup: topup / total };
}

const R = 52;
const C = 2 * Math.PI * R;

/** Ring gauge: used (toned by state), monthly allowance left, top-ups left; percent used inside. */
export function Gauge(props: { balance: Balance }) {
  const { t, fmt } = useI18n();
  const seg = () => gaugeSegments(props.balance);
  const arc = (share: number, offset: number, cls: string) => (
    <circle
      class={cls}
      cx="60"
      cy="60"
      r={R}
      fill="none"
      stroke-width="14"
      stroke-dasharray={`${share * C} ${C}`}
      stroke-dashoffset={-offset * C}
      transform="rotate(-90 60 60)"
    />
  );
  return (
    <div class="gauge">
      <svg viewBox="0 0 120 120" width="150" height="150" role="img" aria-label={t('person.percent', { p: fmt().percent(props.balance.percentUsed) })}>
        <circle cx="60" cy="60" r={R} fill="none" stroke-width="14" class="ring-bg" />
        {arc(seg().used, 0, `ring-used tone-${usageTone(props.balance.percentUsed)}`)}
        {arc(seg().monthly, seg().used, 'ring-monthly')}
        {arc(seg().topup, seg().used + seg().monthly, 'ring-topup')}
        <text x="60" y="58" text-anchor="middle" class="gauge-pct">
          {fmt().percent(props.balance.percentUsed)}
        </text>
        <text x="60" y="76" text-anchor="middle" class="gauge-sub">
          {t('people.usage').toLowerCase()}
        </text>
      </svg>
      <ul class="legend legend-col">
        <li><i class="sw sw-used" /> {t('person.used')}: <b>{fmt().num(props.balance.usedThisPeriod)}</b></li>
        <li><i class="sw sw-monthly" /> {t('person.monthly')}: <b>{fmt().num(props.balance.monthlyRemaining)}</b></li>
        <li><i class="sw sw-topup" /> {t('person.topup')}: <b>{fmt().num(props.balance.topupRemaining)}</b></li>
      </ul>
    </div>
  );
}
