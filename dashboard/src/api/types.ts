/** Shapes of the admin API (see GET /api/openapi.json and service/src/routes). */
export type Role = 'admin' | 'viewer';
export type PersonState = 'active' | 'warned' | 'blocked' | 'suspended' | 'deleted';

export interface Me { id: string; label: string; role: Role; via: string }
export interface Paged<T> { items: T[]; total: number; page: number; pageSize: number }

export interface Balance {
  credits: number;
  monthlyRemaining: number;
  topupRemaining: number;
  usedThisPeriod: number;
  percentUsed: number;
  period: string;
  state: PersonState;
}
export interface Key { id: string; alias: string; status: 'pending' | 'active' | 'blocked' | 'revoked'; hint: string | null; spendUsd: number; createdAt: string; plaintext?: string }
export interface PlanRef { id: string; slug: string; name: string; monthlyCredits: number }
export interface Plan extends PlanRef { active: boolean; createdAt?: string; updatedAt?: string }
export interface User {
  id: string;
  email: string;
  name: string;
  status: 'active' | 'suspended' | 'deleted';
  locale: 'pt-BR' | 'en';
  plan: PlanRef;
  balance: Balance;
  key: Key | null;
  createdAt: string;
  updatedAt: string;
}
export interface Stats {
  periodStart: string;
  people: Record<PersonState, number>;
  today: { credits: number; usd: number };
  period: { credits: number; usd: number; calls: number };
  unattributedEvents: number;
  /** Events this period that arrived after their own period's grace window (charged to this one). */
  lateEventsThisPeriod?: number;
  /** Models LiteLLM priced at 0 this period although they used tokens (free usage). */
  unpricedModels?: UnpricedModel[];
  topConsumers: { userId: string; email: string; name: string; credits: number; usd: number }[];
}
export interface DailyItem { day: string; model: string; credits: number; usd: number; calls: number }
export interface UsageItem { day?: string; model?: string; calls: number; tokens: number; credits: number; usd: number }
export interface LedgerEntry {
  id: number; kind: string; amount: number; monthly: number; topup: number; usd: number | null; factor: number;
  period: string; reason: string | null; reasonCode?: string | null; actor: string; keyId: string | null; createdAt: string;
  /** A usage entry booked from a failed call LiteLLM billed: what the call was. */
  outcome?: FailureOutcome | null;
}
export type FailureOutcome = 'cancelled' | 'timed_out' | 'interrupted' | 'failed';
export interface UnpricedModel { model: string; calls: number; lastSeen: string }
export interface Alert { id: string | number; userId: string; email: string; name: string; threshold: number; period: string; percentUsed: number; createdAt: string; emailStatus: string; remainingCredits?: number }
export interface DeadLetter { id: number; source: string; reason: string; payload: string; createdAt: string; replayedAt: string | null; replayedBy: string | null; replayOutcome: string | null }
export interface Mail { id: string | number; to: string; subject: string; template: string; status: string; error: string | null; createdAt: string }
export interface AuditEntry { id: number; actor: string; action: string; targetType: string; targetId: string | null; before: unknown; after: unknown; requestId: string | null; createdAt: string }
export interface FactorInfo { factor: string; history: { factor: string; previous: string | null; reason: string; actor: string; createdAt: string }[] }
export interface FactorPreview {
  current: string; proposed: string;
  totals: { people: number; remainingCredits: number; usdBefore: number; usdAfter: number };
  people: { userId: string; email: string; name: string; remainingCredits: number; usdBefore: number; usdAfter: number }[];
}
export interface ApiToken { id: string; name: string; role: Role; createdBy: string; createdAt: string; lastUsedAt: string | null; revokedAt: string | null; token?: string }
export interface Ready { status: string; checks: Record<string, { ok: boolean; detail?: string; pending?: number; oldestSeconds?: number; [k: string]: unknown }> }
export interface ReconciliationRun { id?: number; startedAt: string; finishedAt: string | null; keysChecked?: number; recovered?: number; repushed?: number; unexplained?: number; errors?: unknown }
export interface Reconciliation { lastRun: (ReconciliationRun & { items?: unknown[] }) | null; runs?: ReconciliationRun[] }
export interface CreditPack { id: string; name: string; tokens: number; priceMinor: number; currency: string; active: boolean; createdAt: string; updatedAt: string }
export interface Payment {
  id: string; userId: string; email: string; name: string; packName: string; tokens: number; amountMinor: number; currency: string;
  status: 'pending' | 'paid' | 'partially_refunded' | 'refunded' | 'expired'; refundedMinor: number; refundedTokens: number; shortfallTokens: number;
  note: string | null; createdAt: string; paidAt: string | null;
}
export interface PaymentsSummary { paymentsEnabled: boolean; periodStart: string; revenue: { currency: string; payments: number; paidMinor: number; refundedMinor: number; netMinor: number }[] }
