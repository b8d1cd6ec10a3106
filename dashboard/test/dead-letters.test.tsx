import { cleanup, fireEvent, render, screen, waitFor } from '@solidjs/testing-library';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ApiContext, type Api } from '../src/api/client';
import type { DeadLetter } from '../src/api/types';
import { I18nProvider } from '../src/i18n';
import DeadLetters from '../src/pages/DeadLetters';

afterEach(cleanup);

const letter: DeadLetter = {
  id: 7,
  source: 'generic_api',
  reason: 'response_cost is not a number',
  payload: '{"litellm_call_id":"c-1","response_cost":"n/a"}',
  createdAt: '2026-12-01T10:00:00.000Z',
  replayedAt: null,
  replayedBy: null,
  replayOutcome: null,
};

describe('dead letters page', () => {
  it('shows the reason and the item, and replays with one button', async () => {
    let replayed = false;
    const api = {
      deadLetters: vi.fn(async () => ({ items: [replayed ? { ...letter, replayedAt: '2026-12-01T11:00:00.000Z', replayedBy: 'admin@example.com', replayOutcome: 'accepted' } : letter], total: 1, page: 1, pageSize: 20 })),
      replayDeadLetter: vi.fn(async () => {
        replayed = true;
        return { deadLetter: { ...letter, replayOutcome: 'accepted' }, result: { accepted: 1 } };
      }),
    } as unknown as Api & { replayDeadLetter: ReturnType<typeof vi.fn> };
    render(() => (
      <I18nProvider locale="en">
        <ApiContext.Provider value={api}>
          <DeadLetters />
        </ApiContext.Provider>
      </I18nProvider>
    ));
    await screen.findByText('response_cost is not a number');
    expect(screen.getByText(letter.payload)).toBeTruthy();
    fireEvent.click(screen.getByRole('button', { name: 'Replay' }));
    await waitFor(() => expect(api.replayDeadLetter).toHaveBeenCalledWith(7));
    await screen.findByText('accepted · admin@example.com');
    expect(screen.queryByRole('button', { name: 'Replay' })).toBeNull();
  });
});
