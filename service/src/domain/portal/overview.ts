import type { Deps } from '../../deps.js';
import { nextPeriod } from '../../lib/period.js';
import { projectExhaustion, usedInWindow } from '../alerts/projection.js';
import { listLedger } from '../reports.js';
import { alertThresholds } from '../thresholds.js';
import { settlePeriods } from '../periods/rollover.js';
import { howToGetMore, quotaFacts } from '../users/quota.js';
import { currentKey, loadUser, userView } from '../users/view.js';

/**
 * What the portal's home shows one person: balance (monthly vs purchased), percent used against
 * the alert thresholds, the projected exhaustion date from the last 7 days' burn rate, the key,
 * whether buying is possible (else: who to ask), and the quota facts and way out that a refused
 * chat shows in LibreChat.
 */
export async function portalOverview(deps: Deps, userId: string) {
  await settlePeriods(deps, [userId]); // a balance read first rolls the person over
  const { user, plan, balance } = await loadUser(deps.db, userId);
  const view = userView(user, plan, balance, await currentKey(deps.db, userId));
  const now = deps.clock.now();
  const burn = await usedInWindow(deps.db, [userId], now);
  const remainingMilli = Math.round(view.balance.credits * 1000);
  const projected = projectExhaustion(now, remainingMilli, burn.get(userId) ?? 0);
  return {
    person: { id: view.id, name: view.name, email: view.email, locale: view.locale, status: view.status },
    plan: { name: view.plan.name, monthlyCredits: view.plan.monthlyCredits },
    balance: view.balance,
    thresholds: await alertThresholds(deps.db),
    projectedExhaustion: projected?.toISOString() ?? null,
    renewsOn: nextPeriod(view.balance.period),
    key: view.key,
    paymentsEnabled: Boolean(deps.stripe),
    contactEmail: deps.config.ADMIN_EMAIL,
    // The same facts LiteLLM's refusal message gives in the chat (GET /webhooks/litellm/person).
    quota: quotaFacts(plan, balance, deps.config.TIMEZONE),
    getMore: howToGetMore(deps.config, Boolean(deps.stripe)),
  };
}

function csvCell(v: unknown): string {
  let s = v === null || v === undefined ? '' : String(v);
  if (/^[=+\-@\t\r]/.test(s) && typeof v === 'string') s = `'${s}`; // no formula injection in spreadsheets
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** The person's whole statement (newest first, capped at 10,000 entries) as CSV. */
export async function statementCsv(deps: Deps, userId: string): Promise<string> {
  const header = ['id', 'created_at', 'kind', 'amount', 'monthly', 'topup', 'period', 'reason', 'outcome'];
  const lines = [header.join(',')];
  for (let page = 1; page <= 50; page++) {
    const res = await listLedger(deps.db, userId, { page, pageSize: 200 });
    for (const e of res.items) lines.push([e.id, e.createdAt, e.kind, e.amount, e.monthly, e.topup, e.period, e.reason, e.outcome].map(csvCell).join(','));
    if (page * 200 >= res.total || res.items.length === 0) break;
  }
  return lines.join('\n') + '\n';
}
