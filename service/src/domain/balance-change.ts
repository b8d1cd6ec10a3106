import type { Queryable } from '../db/client.js';
import type { Config } from '../config.js';
import type { Clock } from '../lib/clock.js';
import { evaluateAlerts } from './alerts/evaluate.js';
import { refreshCreditStates } from './ledger.js';
import { warnThresholdBp } from './thresholds.js';

export interface BalanceChangeDeps {
  config: Pick<Config, 'TIMEZONE' | 'ADMIN_EMAIL' | 'RESEND_API_KEY' | 'PERIOD_GRACE_MINUTES' | 'ALERT_REARM_MARGIN_PERCENT'>;
  clock: Clock;
}

/**
 * What follows any change to what people have or used, in the same transaction:
 * recompute their state (active/warned/blocked) and fire or re-arm threshold alerts.
 */
export async function afterBalanceChange(tx: Queryable, deps: BalanceChangeDeps, userIds: string[]) {
  const stateChanges = await refreshCreditStates(tx, userIds, await warnThresholdBp(tx));
  const alertsFired = await evaluateAlerts(tx, userIds, {
    now: deps.clock.now(),
    timeZone: deps.config.TIMEZONE,
    adminEmail: deps.config.ADMIN_EMAIL,
    sendMail: Boolean(deps.config.RESEND_API_KEY),
    rearmMarginPercent: deps.config.ALERT_REARM_MARGIN_PERCENT,
  });
  return { stateChanges, alertsFired };
}
