import { describe, expect, it } from 'vitest';
import { failureOutcome } from '../src/domain/usage/outcome.js';

describe('failureOutcome', () => {
  const f = (error_information: unknown, completionTokens = 0, status = 'failure') => failureOutcome({ status, errorInformation: error_information, completionTokens });

  it('names a failure by what LiteLLM reports in error_information, else by its usage', () => {
    expect(f({ error_code: '499', error_class: 'ClientDisconnected' })).toBe('cancelled');
    expect(f({ error_code: '499' }, 3)).toBe('cancelled');
    expect(f({ error_code: '408', error_class: 'Timeout', llm_provider: 'openai' })).toBe('timed_out');
    expect(f({ error_code: '', error_class: 'ReadTimeout' }, 4)).toBe('timed_out');
    expect(f({ error_code: '', error_class: 'ReadError' }, 3)).toBe('interrupted');
    expect(f({ error_code: '500', error_class: 'InternalServerError' })).toBe('failed');
    expect(f(undefined)).toBe('failed');
    expect(f('garbage', 2)).toBe('interrupted');
  });

  it('a success has none', () => {
    expect(f({ error_class: 'Timeout' }, 0, 'success')).toBeNull();
  });
});
