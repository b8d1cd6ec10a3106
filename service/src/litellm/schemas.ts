/**
 * Permissive zod schemas for LiteLLM admin API responses (see shared/LITELLM.md).
 *
 * Shapes move between LiteLLM versions, so every object keeps unknown fields (`looseObject`),
 * numbers may arrive as strings (Postgres numerics), and optional columns may be absent or null.
 */
import { z } from 'zod';

/** A finite number, also accepted as a numeric string. */
export const numeric = z.preprocess(
  (v) => (typeof v === 'string' && v.trim() !== '' ? Number(v) : v),
  z.number().finite(),
);

/** JSON columns sometimes come back serialized; null/absent become {}. */
const jsonObject = z.preprocess((v) => {
  if (v === null || v === undefined) return {};
  if (typeof v === 'string') {
    try {
      return JSON.parse(v) as unknown;
    } catch {
      return v;
    }
  }
  return v;
}, z.record(z.string(), z.unknown()));

const optString = z.string().nullish();

export const generateKeyResponse = z.looseObject({
  key: z.string().startsWith('sk-'),
  token: optString,
  key_alias: optString,
  expires: optString,
});

export const keyInfoRow = z.looseObject({
  spend: numeric.nullish(),
  max_budget: numeric.nullish(),
  blocked: z.boolean().nullish(),
  key_alias: optString,
  user_id: optString,
  metadata: jsonObject,
  /** "active" | "expired" | "revoked" | "deleted" (1.103+). */
  status: optString,
});

export const keyInfoResponse = z.looseObject({
  key: optString,
  info: keyInfoRow,
});

export const keyInfoManyResponse = z.looseObject({
  info: z.array(keyInfoRow),
});

export const updateKeyResponse = z.looseObject({
  key: z.string(),
  max_budget: numeric.nullish(),
  blocked: z.boolean().nullish(),
});

/** POST /key/bulk_update (key_management_endpoints.py, bulk_update_keys → BulkUpdateKeyResponse). */
export const bulkUpdateResponse = z.looseObject({
  total_requested: numeric,
  successful_updates: z.array(z.looseObject({ key: z.string(), key_info: z.looseObject({ max_budget: numeric.nullish() }) })),
  failed_updates: z.array(z.looseObject({ key: z.string(), failed_reason: z.string() })),
});

export const deleteKeysResponse = z.looseObject({
  deleted_keys: z.array(z.string()),
});

export const blockKeyResponse = z.looseObject({
  blocked: z.boolean().nullish(),
});

export const spendLogRow = z.looseObject({
  request_id: z.string(),
  api_key: z.string(),
  spend: numeric,
  total_tokens: numeric.nullish(),
  prompt_tokens: numeric.nullish(),
  completion_tokens: numeric.nullish(),
  startTime: z.string(),
  endTime: optString,
  model: optString,
  user: optString,
  status: optString,
  metadata: jsonObject,
});

export const spendLogsPageResponse = z.looseObject({
  data: z.array(z.unknown()),
  total: numeric,
  total_pages: numeric,
});

/** `/spend/logs` may contain `null` entries (a lookup that found nothing). */
export const spendLogsResponse = z.array(z.unknown());

/** LiteLLM's ProxyException body: `{error: {message, type, param, code}}`. */
export const proxyErrorBody = z.looseObject({
  error: z.looseObject({ message: z.unknown(), type: z.unknown() }),
});

/** FastAPI's body for plain HTTPExceptions and validation errors. */
export const fastapiErrorBody = z.looseObject({ detail: z.unknown() });

export type GenerateKeyResponse = z.infer<typeof generateKeyResponse>;
export type KeyInfoResponse = z.infer<typeof keyInfoResponse>;
export type KeyInfoRow = z.infer<typeof keyInfoRow>;
export type SpendLogRowRaw = z.infer<typeof spendLogRow>;
