import { sha256Hex } from '../../lib/crypto.js';
import { MoneyError, usdToNano } from '../money.js';

/** One LiteLLM call as we book it, parsed from a StandardLoggingPayload. */
export interface UsageItem {
  dedupKey: string;
  litellmCallId: string | null;
  providerId: string | null;
  keyHash: string | null;
  status: 'success' | 'failure';
  callType: string | null;
  model: string | null;
  modelGroup: string | null;
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
  costNano: number;
  startTime: Date | null;
  endTime: Date | null;
  metadata: Record<string, unknown>;
}

export type ParseResult = { ok: true; item: UsageItem } | { ok: false; reason: string };

const str = (v: unknown): string | null =>
  typeof v === 'string' && v !== '' && v !== 'None' && v !== 'null' ? v : typeof v === 'number' ? String(v) : null;

const tokens = (v: unknown): number => {
  const n = typeof v === 'string' ? Number(v) : v;
  return typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= 2_000_000_000 ? n : 0;
};

/** A date PostgreSQL's timestamptz takes from toISOString() (years 1–9999); else null. */
const storable = (d: Date): Date | null => {
  const y = d.getUTCFullYear();
  return Number.isNaN(d.getTime()) || y < 1 || y > 9999 ? null : d;
};

/** startTime/endTime: epoch seconds (float) in StandardLoggingPayload; ISO strings tolerated. */
function time(v: unknown): Date | null {
  if (typeof v === 'number' && Number.isFinite(v) && v > 0) {
    return storable(new Date(v < 1e11 ? v * 1000 : v));
  }
  if (typeof v === 'string' && v) {
    const asNum = Number(v);
    if (Number.isFinite(asNum)) return time(asNum);
    return storable(new Date(v));
  }
  return null;
}

/** One LiteLLM call costing more than this is garbage, not usage (and would overflow the debit). */
const MAX_COST_NANO = 1_000_000 * 1_000_000_000; // 1,000,000 USD

/** The metadata fields we keep (never message content). */
const KEEP_METADATA = [
  'user_api_key_alias',
  'user_api_key_user_id',
  'user_api_key_team_id',
  'user_api_key_end_user_id',
  'user_api_key_spend',
  'requester_ip_address',
];

export function parseUsageItem(raw: unknown): ParseResult {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) return { ok: false, reason: 'not a JSON object' };
  const p = raw as Record<string, unknown>;
  const status = p.status === undefined || p.status === null ? 'success' : p.status;
  if (status !== 'success' && status !== 'failure') return { ok: false, reason: `unknown status ${JSON.stringify(status)}` };

  let costNano = 0;
  const cost = p.response_cost;
  if (cost === undefined || cost === null) {
    if (status === 'success') return { ok: false, reason: 'missing response_cost' };
  } else if (typeof cost === 'number' || typeof cost === 'string') {
    try {
      costNano = usdToNano(cost);
      if (costNano > MAX_COST_NANO) throw new MoneyError('more than 1,000,000 USD for one call');
    } catch (e) {
      const msg = e instanceof MoneyError ? e.message : 'invalid';
      return { ok: false, reason: `response_cost ${JSON.stringify(cost)}: ${msg}` };
    }
  } else {
    return { ok: false, reason: 'response_cost is not a number' };
  }
  if (status === 'failure') costNano = 0; // failures are stored, never debited

  const meta = (p.metadata && typeof p.metadata === 'object' ? p.metadata : {}) as Record<string, unknown>;
  const keyHash = str(meta.user_api_key_hash) ?? (typeof meta.user_api_key === 'string' && /^[0-9a-f]{64}$/.test(meta.user_api_key) ? meta.user_api_key : null);
  const litellmCallId = str(p.litellm_call_id);
  const providerId = str(p.id);
  const callType = str(p.call_type);
  const startTime = time(p.startTime);
  // litellm_call_id can be chosen by the client (header x-litellm-call-id), so alone it would let
  // a person make billed calls look like duplicates: it is combined with the start time and key.
  const dedupKey = litellmCallId
    ? `c:${sha256Hex([litellmCallId, p.startTime ?? '', keyHash ?? ''].join('|'))}`
    : `h:${sha256Hex([providerId, p.startTime ?? '', keyHash ?? '', callType ?? ''].join('|'))}`;

  const metadata: Record<string, unknown> = {};
  for (const k of KEEP_METADATA) if (meta[k] !== undefined && meta[k] !== null) metadata[k] = storableJson(meta[k], 1);
  if (p.end_user) metadata.end_user = storableJson(p.end_user, 1);
  if (status === 'failure' && p.error_information) metadata.error_information = storableJson(p.error_information, 1);

  return {
    ok: true,
    item: {
      dedupKey,
      litellmCallId,
      providerId,
      keyHash,
      status,
      callType,
      model: str(p.model),
      modelGroup: str(p.model_group),
      promptTokens: tokens(p.prompt_tokens),
      completionTokens: tokens(p.completion_tokens),
      totalTokens: tokens(p.total_tokens),
      costNano,
      startTime,
      endTime: time(p.endTime),
      metadata,
    },
  };
}

/**
 * Split a webhook body into items: a JSON array, one JSON object, or NDJSON (one object a line;
 * a bad line becomes a rejected item, not a rejected request). Returns null for a body that is
 * neither (→ 400).
 */
export function splitBody(text: string): { items: unknown[]; badLines: string[] } | null {
  const trimmed = text.trim();
  if (trimmed === '') return null;
  const storable = mayHoldUnstorable(trimmed) ? storableJson : (v: unknown) => v;
  try {
    const parsed: unknown = storable(JSON.parse(trimmed));
    return { items: Array.isArray(parsed) ? parsed : [parsed], badLines: [] };
  } catch {
    const lines = trimmed.split(/\r?\n/).filter((l) => l.trim() !== '');
    if (lines.length < 2) return null;
    const items: unknown[] = [];
    const badLines: string[] = [];
    for (const line of lines) {
      try {
        items.push(storable(JSON.parse(line)));
      } catch {
        badLines.push(storableString(line));
      }
    }
    return items.length === 0 ? null : { items, badLines };
  }
}

/**
 * JSON text can only produce a NUL or a lone surrogate through a `\u0000` or `\uD8xx`–`\uDFxx`
 * escape (raw control characters are invalid JSON, and decoded UTF-8 never holds a lone
 * surrogate): a body without one needs no repair walk, which is the hot path. Deep nesting is cut
 * where nested values are kept (metadata, dead letters), not here.
 */
function mayHoldUnstorable(text: string): boolean {
  return /\\u(?:0000|[dD][89a-fA-F])/.test(text);
}

/** Nesting deeper than this is cut (JSON.stringify overflows the stack around a few thousand). */
const MAX_DEPTH = 64;

/** PostgreSQL text/json cannot hold NUL or lone surrogates: replace them with U+FFFD. */
const UNSTORABLE = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;
function storableString(s: string): string {
  return s.replace(UNSTORABLE, '\ufffd');
}

/**
 * Make a parsed JSON value storable, in place: strings and keys without NUL or lone
 * surrogates, nesting cut at MAX_DEPTH. Garbage becomes a dead letter or an event, never a 500
 * that would block the whole batch (and its good events) forever.
 */
export function storableJson(v: unknown, depth = 0): unknown {
  if (typeof v === 'string') return storableString(v);
  if (v === null || typeof v !== 'object') return v;
  if (depth >= MAX_DEPTH) return '[nested too deep]';
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) v[i] = storableJson(v[i], depth + 1);
    return v;
  }
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    const value = storableJson(o[k], depth + 1);
    const key = storableString(k);
    if (key !== k) delete o[k];
    o[key] = value;
  }
  return o;
}
