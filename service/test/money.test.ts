import { describe, expect, it } from 'vitest';
import {
  creditsToMilli,
  formatFactor,
  maxBudgetNano,
  milliCreditsToNanoFloor,
  MoneyError,
  nanoToMilliCredits,
  parseFactor,
  parseScaled,
  usdToNano,
} from '../src/domain/money.js';

describe('parseScaled', () => {
  it.each([
    ['0.376', 6, 376000n],
    ['1', 9, 1_000_000_000n],
    ['5e-05', 9, 50_000n],
    ['1.5E-7', 9, 150n],
    ['0.0000000015', 9, 2n], // half-up
    ['0.0000000014', 9, 1n],
    ['-0.0000000015', 9, -2n], // half away from zero
    ['.5', 0, 1n],
    ['123.456', 3, 123456n],
  ] as const)('%s at scale %i → %s', (text, scale, expected) => {
    expect(parseScaled(text, scale)).toBe(expected);
  });

  it('works on the shortest decimal text of a float, never on float arithmetic', () => {
    // 0.1 + 0.2 = 0.30000000000000004 as a float; its text is exact to 17 digits.
    expect(parseScaled(0.1 + 0.2, 9)).toBe(300_000_000n);
    expect(parseScaled(0.00003, 9)).toBe(30_000n);
    expect(usdToNano(1e-9 * 3)).toBe(3);
  });

  it('reads plain decimals (the fast path) exactly as the general path reads them', () => {
    // "e0" sends the same digits through the BigInt path
    const digits = (n: number) => Array.from({ length: n }, () => Math.floor(Math.random() * 10)).join('');
    const texts = ['0', '1.', '0.5', '9007199254.740991', '9999999999999999', '1796209999.9999995', '1796209999.0000005', '0.0000000005', '0.0000000004999'];
    for (let i = 0; i < 5000; i++) texts.push(`${digits(1 + (i % 16))}${i % 3 ? `.${digits(i % 20)}` : ''}`);
    for (let i = 0; i < 1000; i++) texts.push(String(Math.random() * 10 ** (i % 12)), String(1.7e9 + Math.random() * 1e8));
    for (const text of texts) for (const scale of [0, 3, 6, 9]) expect(parseScaled(text, scale), `${text} @${scale}`).toBe(parseScaled(`${text}e0`, scale));
  });

  it.each(['', 'abc', '1,5', '$0.05', '0.05 USD', 'NaN', 'Infinity', '1e999999'])('rejects %j', (bad) => {
    expect(() => parseScaled(bad, 9)).toThrow(MoneyError);
  });
});

describe('usdToNano', () => {
  it('converts LiteLLM costs exactly', () => {
    expect(usdToNano(0.00005)).toBe(50_000);
    expect(usdToNano('0.000376')).toBe(376_000);
    expect(usdToNano(12.5)).toBe(12_500_000_000);
    expect(usdToNano(0)).toBe(0);
  });
  it('rejects negative and non-finite costs', () => {
    expect(() => usdToNano(-0.01)).toThrow('must not be negative');
    expect(() => usdToNano(Number.NaN)).toThrow(MoneyError);
    expect(() => usdToNano(Number.POSITIVE_INFINITY)).toThrow(MoneyError);
  });
});

describe('conversion with the factor (f = 0.376 → 376000 micro)', () => {
  const f = 376_000;
  it('one credit is worth f micro-USD', () => {
    // 1,000,000 credits cost f USD = 0.376 USD = 376,000,000 nano
    expect(milliCreditsToNanoFloor(1_000_000 * 1000, f)).toBe(376_000_000);
    // a request priced at 0.000376 USD consumes 1000 credits
    expect(nanoToMilliCredits(376_000, f)).toBe(1_000_000);
  });
  it('rounds debits half-up and budgets down', () => {
    // 50,000 nano × 10^6 / 376,000 = 132,978.72… → 132,979 milli-credits
    expect(nanoToMilliCredits(50_000, f)).toBe(132_979);
    // 1 milli-credit = 0.376 nano → 0 nano (never over-allow)
    expect(milliCreditsToNanoFloor(1, f)).toBe(0);
    expect(milliCreditsToNanoFloor(3, f)).toBe(1); // 1.128 → 1
    expect(milliCreditsToNanoFloor(-3, f)).toBe(-2); // floor, toward −∞
  });
  it('max_budget = booked spend + remaining credits in USD (never below spend)', () => {
    expect(maxBudgetNano(5_000, 1_000_000, f)).toBe(5_000 + 376_000);
    expect(maxBudgetNano(5_000, -10_000, f)).toBe(5_000);
    expect(maxBudgetNano(0, 0, f)).toBe(0);
  });
  it('uses BigInt for products beyond 2^53', () => {
    // 10^12 credits (= 10^15 milli) × 376000 overflows doubles; the result is exact.
    expect(milliCreditsToNanoFloor(1e15, f)).toBe(376_000_000_000_000);
  });
});

describe('parseFactor / formatFactor', () => {
  it('parses and formats', () => {
    expect(parseFactor('0.376')).toBe(376_000);
    expect(parseFactor(0.5)).toBe(500_000);
    expect(parseFactor('1000')).toBe(1_000_000_000);
    expect(formatFactor(376_000)).toBe('0.376');
    expect(formatFactor(1_000_000)).toBe('1');
    expect(formatFactor(1_500_001)).toBe('1.500001');
  });
  it.each([
    ['0', 'greater than 0'],
    ['-1', 'greater than 0'],
    ['1000.5', 'at most 1000'],
    ['1e9', 'at most 1000'],
    ['0.0000001', '6 decimal places'],
    ['abc', 'decimal number'],
  ])('rejects %s', (bad, message) => {
    expect(() => parseFactor(bad)).toThrow(message);
  });
});

describe('creditsToMilli', () => {
  it('accepts up to 3 decimals', () => {
    expect(creditsToMilli(1000)).toBe(1_000_000);
    expect(creditsToMilli('0.001')).toBe(1);
    expect(creditsToMilli(-2.5)).toBe(-2500);
    expect(() => creditsToMilli('0.0001')).toThrow('3 decimal places');
  });
});
