import { useI18n } from '../i18n';

/** Tone for a percentage of the period's credits used (thresholds 80 / 100). */
export function usageTone(percent: number): 'ok' | 'warn' | 'bad' {
  if (percent >= 100) return 'bad';
  if (percent >= 80) return 'warn';
  return 'ok';
}

/** Width of the filled part, clamped to 0–100 (debt shows as full). */
export function clampPercent(percent: number): number {
  if (!Number.isFinite(percent)) return 0;
  return Math.min(100, Math.max(0, percent));
}

export function UsageBar(props: { percent: number; label?: boolean }) {
  const { fmt } = useI18n();
  return (
    <div class="usage" title={fmt().percent(props.percent)}>
      <div class="usage-track" role="meter" aria-valuemin={0} aria-valuemax={100} aria-valuenow={Math.round(clampPercent(props.percent))}>
        <div class={`usage-fill tone-${usageTone(props.percent)}`} style={{ width: `${clampPercent(props.percent)}%` }} />
      </div>
      {props.label !== false && <span class="usage-label">{fmt().percent(props.percent)}</span>}
    </div>
  );
}
