import { z } from '@hono/zod-openapi';
import { LEDGER_KINDS, mailLog, PAYMENT_STATUSES } from '../db/schema/index.js';
import { FAILURE_OUTCOMES } from '../domain/usage/outcome.js';

export const ErrorSchema = z
  .object({
    error: z.object({
      code: z.string(),
      message: z.string(),
      requestId: z.string(),
      details: z.unknown().optional(),
    }),
  })
  .openapi('Error');

const err = (description: string) => ({ content: { 'application/json': { schema: ErrorSchema } }, description });

/** Error responses every protected route may give. */
export const authErrors = {
  400: err('Invalid input'),
  401: err('Not authenticated'),
  403: err('Not allowed for this role'),
} as const;
export const notFoundError = { 404: err('Not found') } as const;
export const conflictError = { 409: err('Conflict') } as const;
export const unprocessableError = { 422: err('Refused by a business rule') } as const;

/**
 * `schema` or null. For a named schema (`.openapi('Name')`) use this, not `.nullable()`: zod-to-openapi
 * writes `.nullable()` of a named schema into the component itself, so every use of it turns nullable.
 */
export const orNull = <T extends z.ZodType>(schema: T) => z.union([schema, z.null()]);

export const json = <T extends z.ZodType>(schema: T, description: string) => ({
  content: { 'application/json': { schema } },
  description,
});

export const jsonBody = <T extends z.ZodType>(schema: T) => ({
  body: { content: { 'application/json': { schema } }, required: true },
});

export const IdParam = z.object({ id: z.string().min(1).max(64).openapi({ param: { name: 'id', in: 'path' } }) });

export const PersonStateSchema = z.enum(['active', 'warned', 'blocked', 'suspended', 'deleted']);

export const BalanceSchema = z
  .object({
    credits: z.number(),
    monthlyRemaining: z.number(),
    topupRemaining: z.number(),
    usedThisPeriod: z.number(),
    percentUsed: z.number(),
    period: z.string(),
    state: PersonStateSchema,
  })
  .openapi('Balance');

export const KeySchema = z
  .object({
    id: z.string(),
    alias: z.string(),
    status: z.enum(['pending', 'active', 'blocked', 'revoked']),
    hint: z.string().nullable(),
    spendUsd: z.number(),
    createdAt: z.string(),
  })
  .openapi('Key');

export const UserSchema = z
  .object({
    id: z.string(),
    email: z.string(),
    name: z.string(),
    status: z.enum(['active', 'suspended', 'deleted']),
    locale: z.enum(['pt-BR', 'en']),
    plan: z.object({ id: z.string(), slug: z.string(), name: z.string(), monthlyCredits: z.number() }),
    balance: BalanceSchema,
    key: orNull(KeySchema),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .openapi('User');

export const PlanSchema = z
  .object({
    id: z.string(),
    slug: z.string(),
    name: z.string(),
    monthlyCredits: z.number(),
    active: z.boolean(),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .openapi('Plan');

/** One page of a list (domain/paging.ts). */
export const paged = <T extends z.ZodType>(item: T) => z.object({ items: z.array(item), total: z.number(), page: z.number(), pageSize: z.number() });

export const PageQuery = {
  page: z.coerce.number().int().min(1).max(1_000_000).default(1),
  pageSize: z.coerce.number().int().min(1).max(200).default(50),
};

/** Whole or fractional credits (≤ 3 decimals), bounded. */
export const CreditsAmount = z
  .number()
  .finite()
  .refine((v) => Math.abs(v) <= 1e12, 'must be at most 1,000,000,000,000 credits')
  .refine((v) => Math.round(v * 1000) / 1000 === v, 'at most 3 decimal places');

export const DateParam = z
  .string()
  .refine((v) => {
    const year = new Date(v).getUTCFullYear(); // NaN when unparseable
    return year >= 1 && year <= 9999; // what PostgreSQL takes
  }, 'must be an ISO date or date-time (years 1 to 9999)')
  .transform((v) => new Date(v));

export const QuotaFactsSchema = z
  .object({
    usedThisPeriod: z.number().int(),
    availableThisPeriod: z.number().int(),
    monthlyAllowance: z.number().int(),
    topupRemaining: z.number().int(),
    remaining: z.number().int(),
    period: z.string().openapi({ example: '2026-11-01' }),
    nextRefill: z.string().openapi({ example: '2026-12-01', description: 'First day of the next period, in timeZone' }),
    timeZone: z.string().openapi({ example: 'America/Sao_Paulo' }),
  })
  .openapi('QuotaFacts', { description: 'Whole tokens (rounded half away from zero)' });

export const GetMoreSchema = z
  .object({
    url: z.string().nullable().openapi({ description: 'PUBLIC_URL + /me, or null when PUBLIC_URL is not set' }),
    text: z.object({ 'pt-BR': z.string().nullable(), en: z.string().nullable() }).openapi({ description: 'QUOTA_HELP_TEXT / QUOTA_HELP_TEXT_EN' }),
    paymentsEnabled: z.boolean(),
    contactEmail: z.string(),
  })
  .openapi('GetMore');

export const LedgerEntrySchema = z
  .object({
    id: z.number(),
    kind: z.enum(LEDGER_KINDS),
    amount: z.number(),
    monthly: z.number(),
    topup: z.number(),
    usd: z.number().nullable(),
    factor: z.number(),
    period: z.string(),
    reason: z.string().nullable(),
    reasonCode: z.string().nullable().openapi({ description: 'What the entry is, for a statement in the reader’s language (e.g. `stripe.dispute`); null: `reason` says it' }),
    actor: z.string(),
    keyId: z.string().nullable(),
    outcome: z
      .enum(FAILURE_OUTCOMES)
      .nullable()
      .openapi({ description: 'For a usage entry booked from a failed call (LiteLLM billed it): what the call was. Null otherwise.' }),
    createdAt: z.string(),
  })
  .openapi('LedgerEntry');

export const UsageItemSchema = z
  .object({
    day: z.string().optional().openapi({ description: 'With groupBy=day: the day (YYYY-MM-DD, in the service time zone)' }),
    model: z.string().optional().openapi({ description: 'With groupBy=model: the model group (or model)' }),
    calls: z.number(),
    tokens: z.number(),
    credits: z.number(),
    usd: z.number(),
  })
  .openapi('UsageItem');

export const AlertSchema = z
  .object({
    id: z.number(),
    userId: z.string(),
    email: z.string(),
    name: z.string(),
    threshold: z.number(),
    period: z.string(),
    percentUsed: z.number(),
    remainingCredits: z.number(),
    rearmedAt: z.string().nullable(),
    createdAt: z.string(),
    emailStatus: z.enum([...mailLog.status.enumValues, 'none']).openapi({ description: 'Of the alert email; none: no email was written' }),
  })
  .openapi('Alert');

export const PaymentSchema = z
  .object({
    id: z.string(),
    userId: z.string(),
    email: z.string(),
    name: z.string(),
    packId: z.string().nullable(),
    packName: z.string(),
    tokens: z.number(),
    amountMinor: z.number(),
    currency: z.string(),
    status: z.enum(PAYMENT_STATUSES),
    refundedMinor: z.number(),
    refundedTokens: z.number(),
    shortfallTokens: z.number(),
    note: z.string().nullable(),
    checkoutSessionId: z.string().nullable(),
    createdAt: z.string(),
    paidAt: z.string().nullable(),
    refundedAt: z.string().nullable(),
  })
  .openapi('Payment');
