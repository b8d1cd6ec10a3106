/**
 * The one place where money and credits are converted. Everything is an integer.
 *
 * Units
 * - credits are stored in **milli-credits** (1 credit = 1000 mc);
 * - USD is stored in **nano-USD** (1 USD = 10^9 nUSD);
 * - the conversion factor f (USD micro-dollars per credit, default 0.376) is stored as
 *   **factorMicro** = f × 10^6 (0.376 → 376000), so f has at most 6 decimals.
 *
 * 1 credit = f × 10^-6 USD, hence
 *   mc   = nUSD × 10^6 / factorMicro
 *   nUSD = mc × factorMicro / 10^6
 *
 * Rounding (documented in docs/money.md)
 * - A LiteLLM cost (USD float) → nUSD: its shortest decimal text, rounded half-up to 9 decimals.
 * - A usage cost nUSD → milli-credits debited: rounded half-up.
 * - Remaining credits → USD budget pushed to LiteLLM: rounded **down** (never allow spend the
 *   credits do not cover).
 * Intermediate products use BigInt; results are checked to be safe JS integers.
 */

const MICRO = 1_000_000n;

/** f is bounded: above 1000 µUSD/credit (0.1 cent per token) is certainly a typo. */
export const FACTOR_MIN_MICRO = 1; // 0.000001
export const FACTOR_MAX_MICRO = 1000 * 1_000_000; // 1000

export class MoneyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MoneyError';
  }
}

/** Digits with an optional fraction, nothing else. */
const PLAIN = /^(\d{1,16})(?:\.(\d*))?$/;
const DECIMAL = /^([+-])?(\d+)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$|^([+-])?\.(\d+)(?:[eE]([+-]?\d+))?$/;

/**
 * Parse a decimal (string or finite number) into an integer scaled by 10^scale, rounding
 * half away from zero. Exact: works on the decimal text, never multiplies floats.
 */
export function parseScaled(input: string | number, scale: number): bigint {
  const text = typeof input === 'number' ? numberToText(input) : input.trim();
  const plain = PLAIN.exec(text);
  if (plain && scale <= 15) {
    // The usual spelling (digits, an optional fraction, no sign or exponent: costs and epoch
    // seconds) in integers below 2^53, where every step is exact: the same digits and rounding
    // as the BigInt path below, at a fraction of its cost (it runs per event, bench/README.md).
    const unit = 10 ** scale;
    const whole = Number(plain[1]) * unit;
    if (whole + unit <= Number.MAX_SAFE_INTEGER) {
      const frac = plain[2] ?? '';
      const kept = frac.length > scale ? frac.slice(0, scale) : frac.padEnd(scale, '0');
      return BigInt(whole + (scale > 0 ? Number(kept) : 0) + (frac.charCodeAt(scale) >= 0x35 ? 1 : 0)); // >= '5': half-up
    }
  }
  const m = DECIMAL.exec(text);
  if (!m) throw new MoneyError(`not a decimal number: ${JSON.stringify(String(input).slice(0, 40))}`);
  const sign = (m[1] ?? m[5]) === '-' ? -1n : 1n;
  const intPart = m[2] ?? '0';
  const fracPart = m[3] ?? m[6] ?? '';
  const exp = Number(m[4] ?? m[7] ?? '0');
  if (!Number.isSafeInteger(exp) || Math.abs(exp) > 400) throw new MoneyError('exponent out of range');
  // digits × 10^(exp - fracLen) × 10^scale
  const digits = BigInt(intPart + fracPart);
  const shift = exp - fracPart.length + scale;
  let value: bigint;
  if (shift >= 0) {
    value = digits * 10n ** BigInt(shift);
  } else {
    const div = 10n ** BigInt(-shift);
    value = digits / div;
    if ((digits % div) * 2n >= div) value += 1n; // half-up on the magnitude
  }
  return sign * value;
}

function numberToText(n: number): string {
  if (!Number.isFinite(n)) throw new MoneyError(`not a finite number: ${n}`);
  return String(n); // shortest round-trip decimal
}

export function toSafeNumber(v: bigint, what = 'amount'): number {
  if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) {
    throw new MoneyError(`${what} is out of range`);
  }
  return Number(v);
}

/** Divide non-negative-or-signed a by positive b, rounding half away from zero. */
function divHalfUp(a: bigint, b: bigint): bigint {
  const neg = a < 0n;
  const abs = neg ? -a : a;
  let q = abs / b;
  if ((abs % b) * 2n >= b) q += 1n;
  return neg ? -q : q;
}

function divFloor(a: bigint, b: bigint): bigint {
  const q = a / b;
  return a < 0n && q * b !== a ? q - 1n : q;
}

/** LiteLLM's `response_cost` (USD) → nano-USD. Rejects negatives and non-numbers. */
export function usdToNano(cost: string | number): number {
  const nano = parseScaled(cost, 9);
  if (nano < 0n) throw new MoneyError('cost must not be negative');
  return toSafeNumber(nano, 'cost');
}

/** Conversion factor text/number → factorMicro, validated. */
export function parseFactor(input: string | number): number {
  let micro: bigint;
  try {
    micro = parseScaled(input, 6);
  } catch {
    throw new MoneyError('conversion factor must be a decimal number such as 0.376');
  }
  if (parseScaled(input, 12) !== micro * MICRO) {
    throw new MoneyError('conversion factor has at most 6 decimal places');
  }
  if (micro < BigInt(FACTOR_MIN_MICRO)) throw new MoneyError('conversion factor must be greater than 0');
  if (micro > BigInt(FACTOR_MAX_MICRO)) throw new MoneyError('conversion factor must be at most 1000');
  return Number(micro);
}

export function formatFactor(factorMicro: number): string {
  const s = (BigInt(factorMicro) + MICRO).toString(); // pad
  const int = (BigInt(factorMicro) / MICRO).toString();
  const frac = s.slice(-6).replace(/0+$/, '');
  return frac ? `${int}.${frac}` : int;
}

/** Credits from the API (up to 3 decimals) → milli-credits. */
export function creditsToMilli(credits: string | number): number {
  const milli = parseScaled(credits, 3);
  if (parseScaled(credits, 9) !== milli * 1_000_000n) {
    throw new MoneyError('credits have at most 3 decimal places');
  }
  return toSafeNumber(milli, 'credits');
}

/** Milli-credits → credits for display/JSON (exact decimal, 3 places at most). */
export function milliToCredits(milli: number): number {
  return milli / 1000;
}

/** Milli-credits → whole tokens for people to read (half away from zero, as Intl rounds). */
export function milliToWholeCredits(milli: number): number {
  const whole = Math.sign(milli) * Math.round(Math.abs(milli) / 1000);
  return whole === 0 ? 0 : whole;
}

/** A usage cost in nano-USD → milli-credits to debit (half-up). */
export function nanoToMilliCredits(nano: number, factorMicro: number): number {
  return toSafeNumber(divHalfUp(BigInt(nano) * MICRO, BigInt(factorMicro)), 'credits');
}

/** Milli-credits → nano-USD they allow (rounded down: never over-allow). */
export function milliCreditsToNanoFloor(milli: number, factorMicro: number): number {
  return toSafeNumber(divFloor(BigInt(milli) * BigInt(factorMicro), MICRO), 'usd');
}

/** nano-USD → exact USD decimal text (9 places), e.g. for a payload that usdToNano reads back exactly. */
export function nanoToUsdText(nano: number): string {
  const v = BigInt(nano);
  const abs = v < 0n ? -v : v;
  return `${v < 0n ? '-' : ''}${abs / 1_000_000_000n}.${(abs % 1_000_000_000n).toString().padStart(9, '0')}`;
}

/** nano-USD → USD float, for LiteLLM's API and display only (never stored). */
export function nanoToUsd(nano: number): number {
  return nano / 1e9;
}

/**
 * The USD budget LiteLLM must enforce for a key:
 *   max_budget = (USD already booked against this key) + (remaining credits in USD, floored, ≥ 0)
 */
export function maxBudgetNano(bookedSpendNano: number, remainingMilli: number, factorMicro: number): number {
  const remainingNano = remainingMilli > 0 ? milliCreditsToNanoFloor(remainingMilli, factorMicro) : 0;
  return bookedSpendNano + remainingNano;
}
