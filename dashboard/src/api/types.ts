/**
 * Shapes of the admin and portal API, named for the dashboard. Every one is an alias into
 * schema.d.ts, which `npm run api:types` generates from the service's routes (GET /api/openapi.json):
 * change a route's zod schema, regenerate, and the dashboard's compiler sees it.
 */
import type { components, paths } from './schema';

type Schemas = components['schemas'];

/** The JSON body of the answer with status `S` (200 unless given) to `M` on `P`. */
export type ResponseBody<P extends keyof paths, M extends keyof paths[P], S extends number = 200> = paths[P][M] extends {
  responses: { [K in S]: { content: { 'application/json': infer B } } };
}
  ? B
  : never;

/** The JSON body `M` on `P` takes. */
export type RequestBody<P extends keyof paths, M extends keyof paths[P]> = paths[P][M] extends {
  requestBody?: { content: { 'application/json': infer B } };
}
  ? B
  : never;

export type Me = ResponseBody<'/api/auth/me', 'get'>;
export type Role = Me['role'];
export type PersonState = Schemas['Balance']['state'];

/** One page of a list (every paged route answers this shape). */
export interface Paged<T> {
  items: T[];
  total: number;
  page: number;
  pageSize: number;
}

export type Balance = Schemas['Balance'];
export type Key = Schemas['Key'];
/** A key as created or rotated: its plaintext, shown this once. */
export type NewKey = ResponseBody<'/api/users/{id}/key/rotate', 'post'>;
export type User = Schemas['User'];
export type UserWithNewKey = Schemas['UserWithNewKey'];
export type PlanRef = User['plan'];
export type Plan = Schemas['Plan'];
export type Stats = Schemas['Stats'];
export type DailyItem = ResponseBody<'/api/stats/daily', 'get'>['items'][number];
export type UsageItem = Schemas['UsageItem'];
export type LedgerEntry = Schemas['LedgerEntry'];
export type FailureOutcome = NonNullable<LedgerEntry['outcome']>;
export type UnpricedModel = Schemas['UnpricedModel'];
export type Alert = Schemas['Alert'];
export type DeadLetter = Schemas['DeadLetter'];
export type Mail = Schemas['Mail'];
export type AuditEntry = Schemas['AuditEntry'];
export type FactorInfo = ResponseBody<'/api/settings/conversion-factor', 'get'>;
export type FactorPreview = ResponseBody<'/api/settings/conversion-factor/preview', 'post'>;
export type ApiToken = Schemas['ApiToken'];
/** A token as created: its plaintext, shown this once. */
export type NewApiToken = ResponseBody<'/api/auth/tokens', 'post', 201>;
export type ReconciliationRun = Schemas['ReconciliationRun'];
export type Reconciliation = Schemas['Reconciliation'];
export type CreditPack = Schemas['CreditPack'];
export type Payment = Schemas['Payment'];
export type PaymentStatus = Payment['status'];
export type PaymentsSummary = ResponseBody<'/api/payments/summary', 'get'>;

/**
 * GET /ready: the readiness probe, outside /api and so outside the API document (like /health and
 * /metrics; service/src/routes/health.ts). The one shape here written by hand.
 */
export interface Ready {
  status: 'ready' | 'unavailable';
  checks: Record<string, { ok: boolean; detail?: string; pending?: number; oldestSeconds?: number; [k: string]: unknown }>;
}
