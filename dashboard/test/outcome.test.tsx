import { cleanup, render } from '@solidjs/testing-library';
import { afterEach, describe, expect, it } from 'vitest';
import type { FailureOutcome } from '../src/api/types';
import { OutcomeBadge } from '../src/components/Badge';
import { I18nProvider, type Locale } from '../src/i18n';

afterEach(cleanup);

const label = (locale: Locale, outcome: FailureOutcome | null) =>
  render(() => (
    <I18nProvider locale={locale}>
      <OutcomeBadge outcome={outcome} />
    </I18nProvider>
  )).container.textContent;

describe('statement: failed calls LiteLLM billed', () => {
  it('says what the call was, in Portuguese and English', () => {
    const outcomes: FailureOutcome[] = ['interrupted', 'timed_out', 'cancelled', 'failed'];
    expect(outcomes.map((o) => label('pt-BR', o))).toEqual(['interrompida', 'tempo esgotado', 'cancelada', 'falhou']);
    cleanup();
    expect(outcomes.map((o) => label('en', o))).toEqual(['interrupted', 'timed out', 'cancelled', 'failed']);
  });

  it('shows nothing for other entries', () => {
    expect(label('en', null)).toBe('');
  });
});
