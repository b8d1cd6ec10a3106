import { createContext, useContext } from 'solid-js';
import { ApiError, queryString, readCookie, toApiError } from '../api/client';
import type { Balance, Key, LedgerEntry, Paged, UsageItem } from '../api/types';

/** Shapes of the portal API (/api/portal, see GET /api/openapi.json). */
export interface PortalMe {
  person: { id: string; name: string; email: string; locale: 'pt-BR' | 'en'; status: string };
  plan: { name: string; monthlyCredits: number };
  balance: Balance;
  thresholds: number[];
  projectedExhaustion: string | null;
  renewsOn: string;
  key: Key | null;
  paymentsEnabled: boolean;
  contactEmail: string;
  /** The same facts a refused chat shows in LibreChat (whole tokens). */
  quota: { usedThisPeriod: number; availableThisPeriod: number; monthlyAllowance: number; topupRemaining: number; remaining: number; period: string; nextRefill: string; timeZone: string };
  getMore: { url: string | null; text: { 'pt-BR': string | null; en: string | null }; paymentsEnabled: boolean; contactEmail: string };
}
export interface Pack { id: string; name: string; tokens: number; priceMinor: number; currency: string }
export interface PortalAlert { id: number; threshold: number; percentUsed: number; period: string; createdAt: string; rearmedAt: string | null }
export interface PortalPayment { id: string; packName: string; tokens: number; amountMinor: number; currency: string; status: string; createdAt: string }

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
    requestLink: (email: string) => request<{ ok: boolean }>('POST', '/login/email', { email }),
    redeemLink: (token: string) => request<{ csrfToken: string }>('POST', '/login/token', { token }),
    loginWithKey: (key: string) => request<{ csrfToken: string }>('POST', '/login/key', { key }),
    logout: () => request<{ ok: boolean }>('POST', '/logout'),
    me: () => get<PortalMe>('/me'),
    usage: (groupBy: 'day' | 'model', from?: string) => get<{ items: UsageItem[] }>('/usage', { groupBy, from }),
    ledger: (page: number) => get<Paged<LedgerEntry>>('/ledger', { page, pageSize: 10 }),
    alerts: () => get<Paged<PortalAlert>>('/alerts', { pageSize: 10 }),
    rotateKey: () => request<Key & { plaintext: string }>('POST', '/key/rotate'),
    packs: () => get<{ paymentsEnabled: boolean; items: Pack[] }>('/packs'),
    checkout: (packId: string) => request<{ url: string; paymentId: string }>('POST', '/checkout', { packId }),
    payments: () => get<Paged<PortalPayment>>('/payments', { pageSize: 10 }),
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
