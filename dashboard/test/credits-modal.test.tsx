import { cleanup, fireEvent, render, screen, waitFor } from '@solidjs/testing-library';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ApiContext, ApiError, type Api } from '../src/api/client';
import { CreditsModal, parseAmount } from '../src/components/CreditsModal';
import { I18nProvider } from '../src/i18n';

afterEach(cleanup);

function setup(addCredits: (...a: any[]) => Promise<unknown>) {
  const api = { addCredits: vi.fn(addCredits) } as unknown as Api & { addCredits: ReturnType<typeof vi.fn> };
  const onDone = vi.fn();
  const onClose = vi.fn();
  render(() => (
    <I18nProvider locale="pt-BR">
      <ApiContext.Provider value={api}>
        <CreditsModal user={{ id: 'usr_1', name: 'Ana Souza' }} onClose={onClose} onDone={onDone} />
      </ApiContext.Provider>
    </I18nProvider>
  ));
  const fill = (amount: string, reason: string) => {
    fireEvent.input(document.querySelector('input[name=amount]')!, { target: { value: amount } });
    fireEvent.input(document.querySelector('input[name=reason]')!, { target: { value: reason } });
  };
  return { api, onDone, onClose, fill };
}

describe('add credits modal', () => {
  it('parses amounts typed in either locale', () => {
    expect(parseAmount('250.000', 'pt-BR')).toBe(250000);
    expect(parseAmount('1,5', 'pt-BR')).toBe(1.5);
    expect(parseAmount('250,000', 'en')).toBe(250000);
    expect(parseAmount('-10', 'en')).toBe(-10);
    expect(parseAmount('0', 'en')).toBeNull();
    expect(parseAmount('1.2345', 'en')).toBeNull();
    expect(parseAmount('abc', 'en')).toBeNull();
  });

  it('asks for confirmation before booking, then books once', async () => {
    const { api, onDone, onClose, fill } = setup(async () => ({ entry: {}, user: { id: 'usr_1' } }));
    fill('250.000', 'bônus');
    fireEvent.click(screen.getByText('Revisar'));
    expect(api.addCredits).not.toHaveBeenCalled();
    expect(screen.getByText('Adicionar 250.000 tokens para Ana Souza?')).toBeTruthy();
    fireEvent.click(screen.getByText('Confirmar e adicionar'));
    await waitFor(() => expect(onDone).toHaveBeenCalledWith({ id: 'usr_1' }));
    expect(api.addCredits).toHaveBeenCalledTimes(1);
    const [userId, body, key] = api.addCredits.mock.calls[0]!;
    expect(userId).toBe('usr_1');
    expect(body).toEqual({ amount: 250000, reason: 'bônus' });
    expect(key).toMatch(/^[0-9a-f-]{36}$/);
    expect(onClose).toHaveBeenCalled();
  });

  it('refuses an empty reason or a zero amount without calling the service', () => {
    const { api, fill } = setup(async () => ({}));
    fill('0', 'x');
    fireEvent.click(screen.getByText('Revisar'));
    expect(screen.getByRole('alert').textContent).toBe('Informe um valor diferente de zero e um motivo.');
    fill('10', '   ');
    fireEvent.click(screen.getByText('Revisar'));
    expect(screen.getByRole('alert')).toBeTruthy();
    expect(api.addCredits).not.toHaveBeenCalled();
  });

  it("shows the service's error and retries with the same idempotency key", async () => {
    let n = 0;
    const { api, onDone, fill } = setup(async () => {
      n++;
      if (n === 1) throw new ApiError(0, 'network_error', 'Failed to fetch');
      if (n === 2) throw new ApiError(422, 'insufficient_credits', 'cannot remove more than the top-up balance', 'req-42');
      return { entry: {}, user: { id: 'usr_1' } };
    });
    fill('-5', 'correção');
    fireEvent.click(screen.getByText('Revisar'));
    fireEvent.click(screen.getByText('Confirmar e adicionar'));
    await waitFor(() => expect(screen.getByRole('alert').textContent).toBe('Failed to fetch'));
    fireEvent.click(screen.getByText('Confirmar e adicionar'));
    await waitFor(() => expect(screen.getByRole('alert').textContent).toContain('cannot remove more than the top-up balance'));
    expect(screen.getByRole('alert').textContent).toContain('req-42');
    fireEvent.click(screen.getByText('Confirmar e adicionar'));
    await waitFor(() => expect(onDone).toHaveBeenCalled());
    const keys = api.addCredits.mock.calls.map((c: unknown[]) => c[2]);
    expect(keys).toHaveLength(3);
    expect(new Set(keys).size).toBe(1);
  });
});
