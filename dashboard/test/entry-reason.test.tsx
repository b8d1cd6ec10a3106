import { cleanup, render, screen } from '@solidjs/testing-library';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EntryReason } from '../src/components/EntryReason';
import { I18nProvider } from '../src/i18n';

afterEach(cleanup);

function show(locale: 'pt-BR' | 'en', entry: { kind: string; reason: string | null; reasonCode?: string | null }) {
  localStorage.setItem('tcc.locale', locale);
  render(() => (
    <I18nProvider>
      <p data-testid="r">
        <EntryReason entry={entry} />
      </p>
    </I18nProvider>
  ));
  return screen.getByTestId('r').textContent;
}

describe('statement lines with a reason code (Stripe disputes) read in both languages', () => {
  beforeEach(() => localStorage.clear());
  const dispute = { kind: 'correction', reason: 'Stripe dispute dp_1 (fraudulent) of checkout cs_1', reasonCode: 'stripe.dispute' };
  const reversal = { kind: 'correction', reason: 'Stripe dispute dp_1 won: tokens of checkout cs_1 given back', reasonCode: 'stripe.dispute_reversed' };

  it('Portuguese', () => {
    expect(show('pt-BR', dispute)).toBe('Pagamento contestado junto ao cartão: tokens retirados');
    cleanup();
    expect(show('pt-BR', reversal)).toBe('Contestação encerrada a seu favor: tokens devolvidos');
  });

  it('English', () => {
    expect(show('en', dispute)).toBe('Payment disputed with the card issuer: tokens taken back');
    cleanup();
    expect(show('en', reversal)).toBe('Dispute closed in your favour: tokens given back');
  });

  it('falls back to the reason as written, and says nothing for usage', () => {
    expect(show('en', { kind: 'adjustment', reason: 'bonus', reasonCode: null })).toBe('bonus');
    cleanup();
    expect(show('en', { kind: 'usage', reason: 'x' })).toBe('');
  });
});
