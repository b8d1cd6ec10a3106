import { sql, type SQL } from 'drizzle-orm';
import type { Balance, User } from '../db/schema/index.js';
import { milliToCredits } from './money.js';

export type PersonState = 'active' | 'warned' | 'blocked' | 'suspended' | 'deleted';

export interface BalanceView {
  credits: number;
  monthlyRemaining: number;
  topupRemaining: number;
  usedThisPeriod: number;
  percentUsed: number;
  period: string;
  state: PersonState;
}

/**
 * Percent of the credits available in the period that were used:
 *   used / (used + remaining), remaining clamped at 0 (debt counts as 100 %).
 * Integer math in basis points, shown with two decimals.
 */
export function percentUsedBp(usedMilli: number, remainingMilli: number): number {
  const remaining = Math.max(0, remainingMilli);
  if (remaining === 0) return usedMilli > 0 || remainingMilli < 0 ? 10_000 : 0;
  const total = BigInt(usedMilli) + BigInt(remaining);
  return Number((BigInt(usedMilli) * 10_000n) / total);
}

/**
 * SQL: whether percentUsedBp(used, remaining) may be at least `bp` (whole basis points, > 0).
 * Exact when remaining > 0 (floor(x) >= bp iff x >= bp); always true when remaining <= 0 (there
 * percentUsedBp is 10,000 or 0). A pre-filter: the caller decides with percentUsedBp itself.
 */
export function mayReachBpSql(used: SQL, remaining: SQL, bp: number): SQL {
  // numeric: basis points × (used + remaining) would overflow bigint for balances above ~10^12 credits
  return sql`(${remaining} <= 0 or ${used}::numeric * 10000 >= ${bp}::numeric * (${used}::numeric + ${remaining}))`;
}

export function personState(user: Pick<User, 'status'>, balance: Pick<Balance, 'creditState'> | undefined): PersonState {
  if (user.status !== 'active') return user.status;
  if (!balance || balance.creditState === 'ok') return 'active';
  return balance.creditState;
}

export function balanceView(user: Pick<User, 'status'>, b: Balance): BalanceView {
  const remaining = b.monthlyMilli + b.topupMilli;
  return {
    credits: milliToCredits(remaining),
    monthlyRemaining: milliToCredits(b.monthlyMilli),
    topupRemaining: milliToCredits(b.topupMilli),
    usedThisPeriod: milliToCredits(b.periodUsedMilli),
    percentUsed: percentUsedBp(b.periodUsedMilli, remaining) / 100,
    period: b.periodStart,
    state: personState(user, b),
  };
}
