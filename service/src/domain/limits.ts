/**
 * The documented limits on amounts and balances (docs/money.md), all in milli-credits. They keep
 * every stored value and every product the service computes far inside PostgreSQL's bigint
 * (9.2 × 10^18) and JavaScript's safe integers (9.0 × 10^15), so nothing overflows into a 500.
 */

/** One amount: a credit operation, a plan's monthly allowance, a pack: 10^12 credits. */
export const MAX_AMOUNT_CREDITS = 1_000_000_000_000;
export const MAX_AMOUNT_MILLI = MAX_AMOUNT_CREDITS * 1000;

/** The top-up bucket after adding credits (the monthly bucket is bounded by the plan). */
export const MAX_TOPUP_MILLI = MAX_AMOUNT_MILLI;

/** One person's usage in one webhook batch; the events beyond it are dead-lettered. */
export const MAX_BATCH_USAGE_MILLI = MAX_AMOUNT_MILLI;

/**
 * A person's usage in a period, and their debt (negative balance): usage that would go beyond is
 * dead-lettered. Checked against the balance read at the start of the batch, so concurrent
 * batches for the same person can pass it by at most MAX_BATCH_USAGE_MILLI each: still far from
 * the safe-integer bound.
 */
export const MAX_PERIOD_USAGE_MILLI = 2 * MAX_AMOUNT_MILLI;
export const MAX_DEBT_MILLI = 2 * MAX_AMOUNT_MILLI;

/** A limit in credits for messages: `1,000,000,000,000 credits`. */
export const creditsText = (milli: number) => `${(milli / 1000).toLocaleString('en-US')} credits`;
