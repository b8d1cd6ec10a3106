import { cleanup, render } from '@solidjs/testing-library';
import { afterEach, describe, expect, it } from 'vitest';
import type { Balance } from '../src/api/types';
import { Gauge, gaugeSegments } from '../src/components/Gauge';
import { clampPercent, UsageBar, usageTone } from '../src/components/UsageBar';
import { I18nProvider } from '../src/i18n';

afterEach(cleanup);

const wrap = (f: () => any) => render(() => <I18nProvider locale="pt-BR">{f()}</I18nProvider>);

describe('usage bar', () => {
  it('tones by threshold: ok below 80, warn from 80, bad from 100', () => {
    expect([0, 79.99, 80, 99.9, 100, 130].map(usageTone)).toEqual(['ok', 'ok', 'warn', 'warn', 'bad', 'bad']);
  });
  it('clamps the fill to 0–100 and survives NaN', () => {
    expect([-5, 42.5, 100, 250, Number.NaN].map(clampPercent)).toEqual([0, 42.5, 100, 100, 0]);
  });
  it('renders the fill width, tone and a localized label', () => {
    const { container } = wrap(() => <UsageBar percent={85.5} />);
    const fill = container.querySelector<HTMLElement>('.usage-fill')!;
    expect(fill.style.width).toBe('85.5%');
    expect(fill.classList.contains('tone-warn')).toBe(true);
    expect(container.querySelector('.usage-label')!.textContent).toBe('85,5%');
    expect(container.querySelector('[role=meter]')!.getAttribute('aria-valuenow')).toBe('86');
  });
});

describe('balance gauge', () => {
  const balance: Balance = { credits: 750, monthlyRemaining: 500, topupRemaining: 250, usedThisPeriod: 250, percentUsed: 25, period: '2026-11-01', state: 'active' };

  it('splits used / monthly left / top-up left into shares of the ring', () => {
    expect(gaugeSegments(balance)).toEqual({ used: 0.25, monthly: 0.5, topup: 0.25 });
    expect(gaugeSegments({ usedThisPeriod: 0, monthlyRemaining: 0, topupRemaining: 0 })).toEqual({ used: 0, monthly: 0, topup: 0 });
    // Debt (negative top-up) is not drawn as a negative arc: the ring is all "used".
    expect(gaugeSegments({ usedThisPeriod: 1100, monthlyRemaining: 0, topupRemaining: -100 })).toEqual({ used: 1, monthly: 0, topup: 0 });
  });

  it('shows the percent used and the buckets, formatted', () => {
    const { container } = wrap(() => <Gauge balance={{ ...balance, usedThisPeriod: 1250000, monthlyRemaining: 1000000 }} />);
    expect(container.querySelector('.gauge-pct')!.textContent).toBe('25%');
    expect(container.textContent).toContain('1.250.000');
    expect(container.textContent).toContain('1.000.000');
    expect(container.querySelector('.ring-used')!.classList.contains('tone-ok')).toBe(true);
  });
});
