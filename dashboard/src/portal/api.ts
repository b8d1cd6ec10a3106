import { createContext, useContext } from 'solid-js';
import { ApiError, queryString, readCookie, toApiError } from '../api/client';
import type { components } from '../api/schema';
import type { ResponseBody } from '../api/types';

/** What GET /api/portal/me answers (generated: npm run api:types); the client's other answers are typed by their paths. */
export type PortalMe = components['schemas']['PortalMe'];

/** The portal's own client: its own CSRF cookie, never the admin session. */
export function createPortalClient(opts: { fetch?: typeof fetch; onUnauthorized?: () => void } = {}) {
  const f = opts.fetch ?? ((...a: Parameters<typeof fetch>) => fetch(...a));
  async function request<R>(method: string, path: string, body?: unknown): Promise<R> {
    const h: Record<string, string> = { accept: 'application/json' };
    if (body !== undefined) h['content-type'] = 'application/json';
    if (method !== 'GET') {
      const csrf = readCookie('tcc_portal_csrf');
      if (csrf) h['x-csrf-token'] = csrf;
    }
    let res: Response;
    try {
      res = await f(`/api/portal${path}`, { method, headers: h, body: body === undefined ? undefined : JSON.stringify(body), credentials: 'same-origin' });
    } catch (err) {
      throw new ApiError(0, 'network_error', (err as Error).message || 'network error');
    }
    if (!res.ok) {
      const e = await toApiError(res);
      if (res.status === 401 && !path.startsWith('/login')) opts.onUnauthorized?.();
      throw e;
    }
    return (await res.json()) as R;
  }
  const get = <R>(path: string, q?: Record<string, string | number | undefined>) => request<R>('GET', path + queryString(q));
  return {
    requestLink: (email: string) => request<ResponseBody<'/api/portal/login/email', 'post', 202>>('POST', '/login/email', { email }),
    redeemLink: (token: string) => request<ResponseBody<'/api/portal/login/token', 'post'>>('POST', '/login/token', { token }),
    loginWithKey: (key: string) => request<ResponseBody<'/api/portal/login/key', 'post'>>('POST', '/login/key', { key }),
    logout: () => request<ResponseBody<'/api/portal/logout', 'post'>>('POST', '/logout'),
    me: () => get<PortalMe>('/me'),
    usage: (groupBy: 'day' | 'model', from?: string) => get<ResponseBody<'/api/portal/usage', 'get'>>('/usage', { groupBy, from }),
    ledger: (page: number) => get<ResponseBody<'/api/portal/ledger', 'get'>>('/ledger', { page, pageSize: 10 }),
    alerts: () => get<ResponseBody<'/api/portal/alerts', 'get'>>('/alerts', { pageSize: 10 }),
    rotateKey: () => request<ResponseBody<'/api/portal/key/rotate', 'post'>>('POST', '/key/rotate'),
    packs: () => get<ResponseBody<'/api/portal/packs', 'get'>>('/packs'),
    checkout: (packId: string) => request<ResponseBody<'/api/portal/checkout', 'post'>>('POST', '/checkout', { packId }),
    payments: () => get<ResponseBody<'/api/portal/payments', 'get'>>('/payments', { pageSize: 10 }),
    csvUrl: '/api/portal/ledger.csv',
  };
}
export type PortalApi = ReturnType<typeof createPortalClient>;

export const PortalApiContext = createContext<PortalApi>();
export function usePortalApi(): PortalApi {
  const api = useContext(PortalApiContext);
  if (!api) throw new Error('usePortalApi outside <PortalApiContext.Provider>');
  return api;
}
