import { cleanup, render } from '@solidjs/testing-library';
import { afterEach, describe, expect, it } from 'vitest';
import { I18nProvider, type Locale } from '../src/i18n';
import type { PortalMe } from '../src/portal/api';
import { BalanceCard } from '../src/portal/BalanceCard';

afterEach(cleanup);

/** A blocked person as GET /api/portal/me answers (the same quota facts LibreChat's refusal states). */
const me = (over: Partial<PortalMe> = {}): PortalMe => ({
  person: { id: 'usr_1', name: 'Bia', email: 'bia@example.com', locale: 'pt-BR', status: 'active' },
  plan: { name: 'Basic', monthlyCredits: 1_000_000 },
  balance: { credits: 0, monthlyRemaining: 0, topupRemaining: 0, usedThisPeriod: 1_250_000, percentUsed: 100, period: '2026-11-01', state: 'blocked' },
  thresholds: [80, 95, 100],
  projectedExhaustion: null,
  renewsOn: '2026-12-01',
  key: null,
  paymentsEnabled: false,
  contactEmail: 'admin@example.com',
  quota: { usedThisPeriod: 1_250_000, availableThisPeriod: 1_250_000, monthlyAllowance: 1_000_000, topupRemaining: 0, remaining: 0, period: '2026-11-01', nextRefill: '2026-12-01', timeZone: 'America/Sao_Paulo' },
  getMore: { url: 'https://credits.example.com/me', text: { 'pt-BR': null, en: null }, paymentsEnabled: false, contactEmail: 'admin@example.com' },
  ...over,
});

const show = (m: PortalMe, locale: Locale) => render(() => <I18nProvider locale={locale}><BalanceCard me={m} /></I18nProvider>).container;
const text = (c: HTMLElement, id: string) => c.querySelector(`[data-testid=${id}]`)?.textContent;

describe('portal balance card', () => {
  it('states used of available, the allowance, purchased tokens and the refill day with its zone', () => {
    const pt = show(me(), 'pt-BR');
    expect(text(pt, 'used-of')).toBe('1.250.000 de 1.250.000');
    expect(text(pt, 'refill')).toBe('1 de dezembro de 2026 (America/Sao_Paulo)');
    expect(pt.textContent).toContain('1.000.000 por mês · restam 0');
    expect(text(pt, 'next-step')).toContain('Peça mais tokens ao administrador: admin@example.com. Ou aguarde a renovação em 1 de dezembro de 2026.');
    expect(text(pt, 'next-step')).toContain('No LibreChat, cada nova mensagem recebe esta mesma explicação (erro 402)');
    cleanup();
    const en = show(me(), 'en');
    expect(text(en, 'used-of')).toBe('1,250,000 of 1,250,000');
    expect(text(en, 'refill')).toBe('December 1, 2026 (America/Sao_Paulo)');
    expect(text(en, 'next-step')).toContain('In LibreChat, every new message gets this same explanation (error 402)');
  });

  it('shows the admin’s own words for getting more, in the shown language', () => {
    const m = me({ getMore: { ...me().getMore, text: { 'pt-BR': 'Peça no canal #ajuda-ia.', en: 'Ask in #ai-help.' } } });
    expect(text(show(m, 'pt-BR'), 'next-step')).toContain('Peça no canal #ajuda-ia.');
    cleanup();
    const en = show(m, 'en');
    expect(text(en, 'next-step')).toContain('Ask in #ai-help.');
    expect(text(en, 'next-step')).not.toContain('admin@example.com');
  });
});
