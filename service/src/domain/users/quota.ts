import type { Config } from '../../config.js';
import type { Balance, Plan } from '../../db/schema/index.js';
import { nextPeriod } from '../../lib/period.js';
import { milliToWholeCredits } from '../money.js';

/**
 * What one person's quota looks like to them, in whole tokens: what they used of what this
 * period, the plan's monthly allowance and purchased tokens left, and when the allowance comes
 * back. The portal (/me) and LiteLLM's refusal message (GET /webhooks/litellm/person) both show
 * exactly these facts.
 */
export interface QuotaFacts {
  usedThisPeriod: number;
  /** used + remaining (remaining counted as 0 when in debt): the "of what" in "used X of Y". */
  availableThisPeriod: number;
  monthlyAllowance: number;
  topupRemaining: number;
  /** monthly + purchased left; negative when LiteLLM overshot (debt, paid by the next grant). */
  remaining: number;
  period: string;
  /** First day of the next period: the monthly allowance comes back then (in `timeZone`). */
  nextRefill: string;
  timeZone: string;
}

export function quotaFacts(plan: Pick<Plan, 'monthlyMilli'>, b: Balance, timeZone: string): QuotaFacts {
  const remainingMilli = b.monthlyMilli + b.topupMilli;
  return {
    usedThisPeriod: milliToWholeCredits(b.periodUsedMilli),
    availableThisPeriod: milliToWholeCredits(b.periodUsedMilli + Math.max(0, remainingMilli)),
    monthlyAllowance: milliToWholeCredits(plan.monthlyMilli),
    topupRemaining: milliToWholeCredits(b.topupMilli),
    remaining: milliToWholeCredits(remainingMilli),
    period: b.periodStart,
    nextRefill: nextPeriod(b.periodStart),
    timeZone,
  };
}

/**
 * How a person gets more tokens: the portal link (PUBLIC_URL + /me) where they can buy packs
 * (Stripe configured) or see whom to ask, and the admin's own words (QUOTA_HELP_TEXT, and
 * QUOTA_HELP_TEXT_EN for English speakers), which replace the default sentence when set.
 */
export interface GetMore {
  url: string | null;
  text: { 'pt-BR': string | null; en: string | null };
  paymentsEnabled: boolean;
  contactEmail: string;
}

export function howToGetMore(config: Pick<Config, 'PUBLIC_URL' | 'QUOTA_HELP_TEXT' | 'QUOTA_HELP_TEXT_EN' | 'ADMIN_EMAIL'>, paymentsEnabled: boolean): GetMore {
  const pt = config.QUOTA_HELP_TEXT ?? null;
  return {
    url: config.PUBLIC_URL ? `${config.PUBLIC_URL.replace(/\/$/, '')}/me` : null,
    text: { 'pt-BR': pt, en: config.QUOTA_HELP_TEXT_EN ?? pt },
    paymentsEnabled,
    contactEmail: config.ADMIN_EMAIL,
  };
}
