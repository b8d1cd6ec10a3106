import { createContext, createResource, useContext, type ResourceSource } from 'solid-js';
import type * as T from './types';
import type { RequestBody, ResponseBody } from './types';

/** An error answered by the service (`{error:{code,message,requestId,details?}}`) or the network. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly requestId = '',
    readonly details?: unknown,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export const isNotFound = (e: unknown) => e instanceof ApiError && e.status === 404;

type Query = Record<string, string | number | boolean | null | undefined>;

/** `?a=1&b=x`, leaving out empty values; '' when nothing is left. */
export function queryString(q: Query = {}): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) if (v !== undefined && v !== null && v !== '') p.set(k, String(v));
  const s = p.toString();
  return s ? `?${s}` : '';
}

export function readCookie(name: string, cookies = typeof document === 'undefined' ? '' : document.cookie): string {
  for (const part of cookies.split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === name) return decodeURIComponent(v.join('='));
  }
  return '';
}

/** Turn any failed Response into an ApiError with the service's message when it sent one. */
export async function toApiError(res: Response): Promise<ApiError> {
  let body: unknown = null;
  try {
    body = await res.json();
  } catch {
    /* not JSON */
  }
  const e = (body as { error?: { code?: string; message?: string; requestId?: string; details?: unknown } } | null)?.error;
  if (e && typeof e.message === 'string') return new ApiError(res.status, e.code ?? 'error', e.message, e.requestId ?? res.headers.get('x-request-id') ?? '', e.details);
  return new ApiError(res.status, `http_${res.status}`, `${res.status} ${res.statusText || 'request failed'}`, res.headers.get('x-request-id') ?? '');
}

export interface ClientOptions {
  fetch?: typeof fetch;
  base?: string;
  /** Called on any 401 (the session ended). */
  onUnauthorized?: () => void;
}

export function createClient(opts: ClientOptions = {}) {
  const f = opts.fetch ?? ((...a: Parameters<typeof fetch>) => fetch(...a));
  const base = opts.base ?? '';

  async function request<R>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<R> {
    const h: Record<string, string> = { accept: 'application/json', ...headers };
    if (body !== undefined) h['content-type'] = 'application/json';
    if (method !== 'GET') {
      const csrf = readCookie('tcc_csrf');
      if (csrf) h['x-csrf-token'] = csrf;
    }
    let res: Response;
    try {
      res = await f(base + path, { method, headers: h, body: body === undefined ? undefined : JSON.stringify(body), credentials: 'same-origin' });
    } catch (err) {
      throw new ApiError(0, 'network_error', (err as Error).message || 'network error');
    }
    if (!res.ok) {
      const e = await toApiError(res);
      if (res.status === 401 && !path.startsWith('/api/auth/login')) opts.onUnauthorized?.();
      throw e;
    }
    if (res.status === 204) return undefined as R;
    const type = res.headers.get('content-type') ?? '';
    return (type.includes('json') ? res.json() : res.text()) as Promise<R>;
  }
  const get = <R>(path: string, q?: Query) => request<R>('GET', path + queryString(q));
  const id = encodeURIComponent;

  return {
    request,
    // auth
    me: () => get<T.Me>('/api/auth/me'),
    login: (email: string, password: string) => request<ResponseBody<'/api/auth/login', 'post'>>('POST', '/api/auth/login', { email, password }),
    logout: () => request<ResponseBody<'/api/auth/logout', 'post'>>('POST', '/api/auth/logout'),
    tokens: () => get<{ items: T.ApiToken[] }>('/api/auth/tokens'),
    createToken: (name: string, role: T.Role) => request<T.NewApiToken>('POST', '/api/auth/tokens', { name, role }),
    revokeToken: (tokenId: string) => request<T.ApiToken>('DELETE', `/api/auth/tokens/${id(tokenId)}`),
    // overview
    stats: () => get<T.Stats>('/api/stats'),
    daily: (days: number) => get<{ items: T.DailyItem[] }>('/api/stats/daily', { days }),
    ready: () => readyProbe(f, base),
    reconciliation: () => get<T.Reconciliation>('/api/reconciliation'),
    // people
    users: (q: Query) => get<T.Paged<T.User>>('/api/users', q),
    user: (userId: string) => get<T.User>(`/api/users/${id(userId)}`),
    createUser: (b: RequestBody<'/api/users', 'post'>) => request<T.UserWithNewKey>('POST', '/api/users', b),
    updateUser: (userId: string, b: RequestBody<'/api/users/{id}', 'patch'>) => request<T.User>('PATCH', `/api/users/${id(userId)}`, b),
    suspend: (userId: string) => request<T.User>('POST', `/api/users/${id(userId)}/suspend`),
    activate: (userId: string) => request<T.User>('POST', `/api/users/${id(userId)}/activate`),
    deleteUser: (userId: string) => request<T.User>('DELETE', `/api/users/${id(userId)}`),
    addCredits: (userId: string, b: RequestBody<'/api/users/{id}/credits', 'post'>, idempotencyKey: string) =>
      request<ResponseBody<'/api/users/{id}/credits', 'post', 201>>('POST', `/api/users/${id(userId)}/credits`, b, { 'idempotency-key': idempotencyKey }),
    rotateKey: (userId: string) => request<T.NewKey>('POST', `/api/users/${id(userId)}/key/rotate`),
    ledger: (userId: string, q: Query) => get<T.Paged<T.LedgerEntry>>(`/api/users/${id(userId)}/ledger`, q),
    usage: (userId: string, q: Query) => get<ResponseBody<'/api/users/{id}/usage', 'get'>>(`/api/users/${id(userId)}/usage`, q),
    // lists
    alerts: (q: Query) => get<T.Paged<T.Alert>>('/api/alerts', q),
    mail: (q: Query) => get<T.Paged<T.Mail>>('/api/mail', q),
    audit: (q: Query) => get<T.Paged<T.AuditEntry>>('/api/audit', q),
    deadLetters: (q: Query) => get<T.Paged<T.DeadLetter>>('/api/dead-letters', q),
    replayDeadLetter: (letterId: number) => request<ResponseBody<'/api/dead-letters/{id}/replay', 'post'>>('POST', `/api/dead-letters/${letterId}/replay`),
    usageCsv: (q: Query) => get<string>('/api/reports/usage.csv', q),
    usageCsvUrl: (q: Query) => `${base}/api/reports/usage.csv${queryString(q)}`,
    // settings
    factor: () => get<T.FactorInfo>('/api/settings/conversion-factor'),
    previewFactor: (factor: string) => request<T.FactorPreview>('POST', '/api/settings/conversion-factor/preview', { factor }),
    setFactor: (factor: string, reason: string) => request<ResponseBody<'/api/settings/conversion-factor', 'put'>>('PUT', '/api/settings/conversion-factor', { factor, reason }),
    plans: () => get<{ items: T.Plan[] }>('/api/plans'),
    createPlan: (b: RequestBody<'/api/plans', 'post'>) => request<T.Plan>('POST', '/api/plans', b),
    updatePlan: (planId: string, b: RequestBody<'/api/plans/{id}', 'patch'>) => request<T.Plan>('PATCH', `/api/plans/${id(planId)}`, b),
    thresholds: () => get<{ thresholds: number[] }>('/api/settings/alert-thresholds'),
    setThresholds: (thresholds: number[]) => request<{ thresholds: number[] }>('PUT', '/api/settings/alert-thresholds', { thresholds }),
    // payments
    packs: () => get<{ items: T.CreditPack[] }>('/api/packs'),
    createPack: (b: RequestBody<'/api/packs', 'post'>) => request<T.CreditPack>('POST', '/api/packs', b),
    updatePack: (packId: string, b: RequestBody<'/api/packs/{id}', 'patch'>) =>
      request<T.CreditPack>('PATCH', `/api/packs/${id(packId)}`, b),
    payments: (q: Query) => get<T.Paged<T.Payment>>('/api/payments', q),
    paymentsSummary: () => get<T.PaymentsSummary>('/api/payments/summary'),
  };
}

/** /ready answers 503 with the same JSON when degraded; both are readable results. */
async function readyProbe(f: typeof fetch, base: string): Promise<T.Ready> {
  const res = await f(`${base}/ready`, { headers: { accept: 'application/json' } });
  if (res.ok || res.status === 503) return (await res.json()) as T.Ready;
  throw await toApiError(res);
}

export type Api = ReturnType<typeof createClient>;

export const ApiContext = createContext<Api>();
export function useApi(): Api {
  const api = useContext(ApiContext);
  if (!api) throw new Error('useApi outside <ApiContext.Provider>');
  return api;
}

/**
 * Who is signed in (admin app and portal alike), fetched once `ready`: null when signed out, that is
 * on a 401 from `me`, a 401 on any later call (`setOnUnauthorized`), or after `logout`.
 */
export function createSignedIn<T>(api: { me(): Promise<T>; logout(): Promise<unknown> }, setOnUnauthorized: (f: () => void) => void, ready: ResourceSource<boolean> = true) {
  const [me, { refetch, mutate }] = createResource(ready, async () => {
    try {
      return await api.me();
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) return null;
      throw e;
    }
  });
  setOnUnauthorized(() => mutate(null));
  const logout = async () => {
    await api.logout().catch(() => undefined);
    mutate(null);
  };
  return { me, refetch, logout };
}
