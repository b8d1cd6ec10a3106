import { describe, expect, it, vi } from 'vitest';
import { ApiError, createClient, queryString, readCookie, toApiError } from '../src/api/client';

const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });

describe('API client', () => {
  it('maps the service error shape to an ApiError with code, message, request id and details', async () => {
    const fetch = vi.fn(async () =>
      json(409, { error: { code: 'conflict', message: 'a person with email a@b.c already exists', requestId: 'req-1', details: { field: 'email' } } }),
    );
    const api = createClient({ fetch });
    const err = await api.createUser({ email: 'a@b.c', name: 'A' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err).toMatchObject({ status: 409, code: 'conflict', message: 'a person with email a@b.c already exists', requestId: 'req-1', details: { field: 'email' } });
  });

  it('falls back to the status line when the body is not the error shape', async () => {
    const err = await toApiError(new Response('<html>bad gateway</html>', { status: 502, statusText: 'Bad Gateway', headers: { 'x-request-id': 'r9' } }));
    expect(err).toMatchObject({ status: 502, code: 'http_502', message: '502 Bad Gateway', requestId: 'r9' });
  });

  it('turns a network failure into a network_error', async () => {
    const api = createClient({ fetch: vi.fn(async () => Promise.reject(new TypeError('Failed to fetch'))) });
    await expect(api.stats()).rejects.toMatchObject({ status: 0, code: 'network_error', message: 'Failed to fetch' });
  });

  it('calls onUnauthorized on 401 (except for the login itself)', async () => {
    const onUnauthorized = vi.fn();
    const fetch = vi.fn(async () => json(401, { error: { code: 'unauthorized', message: 'authentication required', requestId: 'x' } }));
    const api = createClient({ fetch, onUnauthorized });
    await expect(api.users({})).rejects.toMatchObject({ status: 401 });
    expect(onUnauthorized).toHaveBeenCalledTimes(1);
    await expect(api.login('a', 'b')).rejects.toMatchObject({ status: 401 });
    expect(onUnauthorized).toHaveBeenCalledTimes(1);
  });

  it('sends the CSRF cookie as X-CSRF-Token on mutations only, and the Idempotency-Key for credits', async () => {
    document.cookie = 'tcc_csrf=abc%2D123';
    const fetch = vi.fn(async (..._a: unknown[]) => json(201, { entry: {}, user: {} }));
    const api = createClient({ fetch: fetch as unknown as typeof globalThis.fetch });
    await api.addCredits('usr_1', { amount: 5, reason: 'r' }, 'key-1');
    const [url, init] = fetch.mock.calls[0] as [string, RequestInit];
    expect(url).toBe('/api/users/usr_1/credits');
    expect(init.method).toBe('POST');
    expect(init.headers).toMatchObject({ 'x-csrf-token': 'abc-123', 'idempotency-key': 'key-1', 'content-type': 'application/json' });
    expect(JSON.parse(String(init.body))).toEqual({ amount: 5, reason: 'r' });
    await api.user('usr_1');
    expect((fetch.mock.calls[1] as [string, RequestInit])[1].headers).not.toHaveProperty('x-csrf-token');
  });

  it('builds query strings without empty values and reads cookies', () => {
    expect(queryString({ a: 1, b: '', c: undefined, d: null, e: 'x y' })).toBe('?a=1&e=x+y');
    expect(queryString({})).toBe('');
    expect(readCookie('tcc_csrf', 'a=1; tcc_csrf=t%3D1; b=2')).toBe('t=1');
    expect(readCookie('missing', 'a=1')).toBe('');
  });
});
