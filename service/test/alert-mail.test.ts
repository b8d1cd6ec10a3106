import { describe, expect, it } from 'vitest';
import { projectExhaustion } from '../src/domain/alerts/projection.js';
import { alertMail } from '../src/domain/alerts/templates.js';

const base = {
  name: 'Ana',
  usedCredits: 800_000,
  remainingCredits: 200_000,
  period: '2026-11-01',
  timeZone: 'America/Sao_Paulo',
  adminEmail: 'ops@example.com',
};

describe('alert emails', () => {
  it('are Portuguese by default and English when the person prefers it', () => {
    const pt = alertMail({ ...base, locale: 'pt-BR', thresholdPercent: 80, percentUsed: 80, projectedExhaustion: new Date('2026-11-25T15:00:00Z') });
    expect(pt.subject).toBe('Você usou 80% dos seus tokens');
    expect(pt.text).toContain('Restam 200.000 tokens');
    expect(pt.text).toContain('por volta de 25 de novembro de 2026');
    const en = alertMail({ ...base, locale: 'en', thresholdPercent: 95, percentUsed: 95.5, projectedExhaustion: null });
    expect(en.subject).toBe('You have used 95% of your tokens');
    expect(en.text).toContain('You have used 95.5% of the tokens available this period (800,000 tokens). 200,000 tokens remain.');
    expect(en.text).toContain('not enough recent usage');
    const out = alertMail({ ...base, locale: 'en', thresholdPercent: 100, percentUsed: 100, remainingCredits: -50, projectedExhaustion: null });
    expect(out.subject).toBe('You are out of tokens: chat is paused');
    expect(out.text).toContain('Balance: 0 tokens');
    expect(out.text).toContain('renew on December 01, 2026');
  });

  it('escape names in the HTML body', () => {
    const m = alertMail({ ...base, name: '<script>x</script>', locale: 'en', thresholdPercent: 80, percentUsed: 80, projectedExhaustion: null });
    expect(m.html).not.toContain('<script>');
    expect(m.html).toContain('&#60;script&#62;');
  });
});

describe('projected exhaustion (burn rate over the last 7 days)', () => {
  const now = new Date('2026-11-10T00:00:00Z');
  it('divides what remains by the recent daily burn', () => {
    // 7,000 credits in 7 days = 1,000 a day; 2,500 left → 2.5 days
    expect(projectExhaustion(now, 2_500_000, 7_000_000)?.toISOString()).toBe('2026-11-12T12:00:00.000Z');
  });
  it('has no date without recent usage or without credits', () => {
    expect(projectExhaustion(now, 1_000, 0)).toBeNull();
    expect(projectExhaustion(now, 0, 1_000)).toBeNull();
    expect(projectExhaustion(now, -5, 1_000)).toBeNull();
  });
});
