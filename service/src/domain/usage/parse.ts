import { sha256Hex } from '../../lib/crypto.js';
import { MoneyError, parseScaled, usdToNano } from '../money.js';

/** One LiteLLM call as we book it, parsed from a StandardLoggingPayload. */
export interface UsageItem {
  dedupKey: string;
  /**
   * The key an older version of the service stored for this same payload (it hashed the start
   * time as sent): a re-delivery of an event booked before the normalised keys is found by it.
   * Null when the start time is at or after the cut-off before which such a key can exist
   * (`legacyBefore` of parseUsageItem).
   */
  legacy: { dedupKey: string; startTime: string | null } | null;
  /**
   * A failure's key as versions before status-scoped failure keys stored it (the success key of
   * the same call): a re-delivery of a failure booked by them is found by it. Null for successes.
   */
  unscopedFailureKey: string | null;
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
  /**
   * A success LiteLLM priced at 0 although it used tokens (and was not a cache hit): the model is
   * missing from LiteLLM's cost map, so the call was free to the person (docs/operations.md).
   */
  unpriced: boolean;
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

/**
 * startTime/endTime as the instant they name, in integer microseconds since the epoch: epoch
 * seconds (LiteLLM's float; numbers from 10^11 on are taken as milliseconds), the same as a
 * numeric string, or a date-time string (ISO 8601 and what Date.parse reads; fractional seconds
 * are read exactly, to the microsecond, half-up). `1796209999`, `"1796209999.0"`,
 * `"2026-12-02T10:33:19Z"` and `"2026-12-02T10:33:19.000Z"` are one instant. Null when absent,
 * unreadable or outside what timestamptz stores.
 */
export function instantMicros(v: unknown): bigint | null {
  let micros: bigint | null = null;
  if (typeof v === 'number') micros = epochMicros(v, String(v));
  else if (typeof v === 'string' && v.trim() !== '') {
    const text = v.trim();
    const n = Number(text);
    micros = Number.isFinite(n) ? epochMicros(n, DECIMAL_TEXT.test(text) ? text : String(n)) : dateTimeMicros(text);
  }
  return micros !== null && storable(new Date(Number(floorDiv(micros, 1000n)))) ? micros : null;
}

/** Decimal text parseScaled reads exactly (other numeric spellings, e.g. hex, go through Number). */
const DECIMAL_TEXT = /^\+?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

function epochMicros(n: number, text: string): bigint | null {
  if (!Number.isFinite(n) || n <= 0) return null;
  return parseScaled(text, n < 1e11 ? 6 : 3);
}

const FRACTION = /(:\d{2})[.,](\d+)/;
function dateTimeMicros(text: string): bigint | null {
  const m = FRACTION.exec(text);
  const wholeSeconds = Date.parse(m ? text.replace(FRACTION, '$1') : text);
  if (!Number.isFinite(wholeSeconds)) return null;
  return BigInt(wholeSeconds) * 1000n + (m ? parseScaled(`0.${m[2]}`, 6) : 0n);
}

const floorDiv = (a: bigint, b: bigint) => (a >= 0n ? a / b : -((-a + b - 1n) / b));

/** The instant as a Date (milliseconds, floored): what start_time/end_time store. */
const toDate = (micros: bigint | null): Date | null => (micros === null ? null : new Date(Number(floorDiv(micros, 1000n))));

/** How versions before the normalised dedup keys read a start time (their start_time column). */
function legacyTime(v: unknown): Date | null {
  if (typeof v === 'number' && Number.isFinite(v) && v > 0) {
    return storable(new Date(v < 1e11 ? v * 1000 : v));
  }
  if (typeof v === 'string' && v) {
    const asNum = Number(v);
    if (Number.isFinite(asNum)) return legacyTime(asNum);
    return storable(new Date(v));
  }
  return null;
}

/**
 * What identifies one call: `litellm_call_id` when present, else the provider id and call type,
 * always with the start instant (normalised, so its spelling does not matter) and the key hash.
 * litellm_call_id can be chosen by the client (header x-litellm-call-id), so alone it would let a
 * person make billed calls look like duplicates. JSON-encoded parts: no separator ambiguity.
 */
function dedupKeyOf(callId: string | null, providerId: string | null, callType: string | null, start: bigint | null, keyHash: string | null): string {
  const at = start === null ? '' : start.toString();
  return callId ? `c2:${sha256Hex(JSON.stringify([callId, at, keyHash]))}` : `h2:${sha256Hex(JSON.stringify([providerId, at, keyHash, callType]))}`;
}

/**
 * A failure's key also names its status, so a failure and a success of the same call never
 * collapse into one event, even with the same call id and start instant: LiteLLM reports a
 * failed attempt and the retry or fallback that then succeeds under the same litellm_call_id
 * (router retries and fallbacks keep the request's call id), and an interrupted stream that a
 * fallback completes is reported as a priced failure and then as a success of the same request
 * (litellm_core_utils/streaming_handler.py: CustomStreamWrapper._record_partial_usage_for_failure).
 * Both are billed by LiteLLM, so both are booked. Success keys are unchanged (a re-delivery of a
 * success booked by an earlier version keeps its key); the extra array element keeps the two
 * spaces of keys apart.
 */
function failureDedupKeyOf(callId: string | null, providerId: string | null, callType: string | null, start: bigint | null, keyHash: string | null): string {
  const at = start === null ? '' : start.toString();
  return callId
    ? `c2:${sha256Hex(JSON.stringify([callId, at, keyHash, 'failure']))}`
    : `h2:${sha256Hex(JSON.stringify([providerId, at, keyHash, callType, 'failure']))}`;
}

/** The key versions before 2 stored: the start time hashed as sent, `|`-joined. */
function legacyDedupKeyOf(p: Record<string, unknown>, callId: string | null, providerId: string | null, callType: string | null, rawKeyHash: string | null): string {
  return callId
    ? `c:${sha256Hex([callId, p.startTime ?? '', rawKeyHash ?? ''].join('|'))}`
    : `h:${sha256Hex([providerId, p.startTime ?? '', rawKeyHash ?? '', callType ?? ''].join('|'))}`;
}

const SHA256_HEX = /^[0-9a-fA-F]{64}$/;

/**
 * The key hash to store. LiteLLM logs `user_api_key_dict.api_key` as `user_api_key_hash`
 * (proxy/litellm_pre_call_utils.py: LiteLLMProxyRequestSetup.get_logged_api_key), which is the
 * sha256 of an `sk-` key but can be the raw bearer value (failed auth with a non-`sk-` token) or a
 * session token's alias; only values shaped like a sha256 hex digest are kept as they are
 * (litellm_core_utils/litellm_logging.py: is_valid_sha256_hash uses the same shape); anything
 * else is stored as its own sha256 — never a possible credential — which is also what the
 * durable callback sends for it (sanitise_key_hash) and what LiteLLM's hash_token gives for a
 * raw `sk-` key.
 */
function storedKeyHash(raw: string | null): { hash: string | null; rehashed: boolean } {
  if (raw === null) return { hash: null, rehashed: false };
  return SHA256_HEX.test(raw) ? { hash: raw.toLowerCase(), rehashed: false } : { hash: sha256Hex(raw), rehashed: true };
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

/** The top-level fields a dead letter keeps (content — messages, response, ... — never). */
const KEEP_FIELDS = [
  'id',
  'litellm_call_id',
  'trace_id',
  'call_type',
  'status',
  'response_cost',
  'prompt_tokens',
  'completion_tokens',
  'total_tokens',
  'startTime',
  'endTime',
  'model',
  'model_group',
  'model_id',
  'cache_hit',
  'companion_dedup_key',
];

/** What a dead letter stores of an NDJSON line that is not JSON (it may be content): its size. */
export const notJsonPayload = (line: string) => ({ type: 'not JSON', length: line.length });

/** A scalar as it is; a long string cut; an object or array only named (it could hold content). */
function scalar(v: unknown): unknown {
  if (typeof v === 'string') return storableString(v.length > 200 ? `${v.slice(0, 200)}…` : v);
  if (v === null || typeof v === 'number' || typeof v === 'boolean') return v;
  return `[${Array.isArray(v) ? 'array' : typeof v}]`;
}

/**
 * What a dead letter stores of an item that could not be booked: the fields a booked event keeps
 * (the identifying and billing fields, the same metadata, the key hash as it would be stored:
 * never a raw bearer value) and nothing else, so message content is stripped exactly as for good
 * events. Not an object: its type and size, or the value of a number or boolean.
 */
export function deadLetterPayload(raw: unknown): Record<string, unknown> {
  if (typeof raw === 'string' || Array.isArray(raw)) return { type: Array.isArray(raw) ? 'array' : 'string', length: raw.length };
  if (!raw || typeof raw !== 'object') return { type: raw === null ? 'null' : typeof raw, value: scalar(raw) };
  const p = raw as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const k of KEEP_FIELDS) if (p[k] !== undefined) out[k] = scalar(p[k]);
  if (p.end_user) out.end_user = storableJson(p.end_user, 1);
  if (p.status === 'failure' && p.error_information) out.error_information = storableJson(p.error_information, 1);
  if (p.metadata && typeof p.metadata === 'object' && !Array.isArray(p.metadata)) {
    const meta = p.metadata as Record<string, unknown>;
    const metadata: Record<string, unknown> = {};
    const { hash } = storedKeyHash(str(meta.user_api_key_hash));
    if (hash) metadata.user_api_key_hash = hash;
    for (const k of KEEP_METADATA) if (meta[k] !== undefined && meta[k] !== null) metadata[k] = scalar(meta[k]);
    out.metadata = metadata;
  } else if (p.metadata !== undefined) out.metadata = scalar(p.metadata);
  const dropped = memberNames(p).filter((k) => !KEEP_FIELDS.includes(k) && k !== 'metadata' && k !== 'end_user' && k !== 'error_information');
  if (dropped.length) out.stripped = dropped.slice(0, 50).map((k) => storableString(k.slice(0, 100)));
  return out;
}

/**
 * `legacyBefore`: epoch milliseconds of the dedup_legacy_before cut-off (ingest.ts,
 * legacyCutoff); an event starting at or after it cannot have a legacy key, so none is computed.
 * Unknown: +Infinity, every event gets one (the database decides, see earlierBookedSql).
 */
export function parseUsageItem(raw: unknown, legacyBefore = Number.POSITIVE_INFINITY): ParseResult {
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
  // A failure is debited its response_cost exactly like a success: LiteLLM adds it to the key's
  // spend. A stream broken mid-way carries the priced partial usage
  // (litellm_core_utils/streaming_handler.py: CustomStreamWrapper._record_partial_usage_for_failure,
  // kept by litellm_core_utils/litellm_logging.py: Logging._failure_handler_helper_fn), and
  // proxy/hooks/proxy_track_cost_callback.py: _ProxyDBLogger.async_post_call_failure_hook writes
  // that cost to the key's spend. A failure reported at 0 (refusals, provider errors) stays a
  // free, stored event.

  const meta = (p.metadata && typeof p.metadata === 'object' ? p.metadata : {}) as Record<string, unknown>;
  const rawKeyHash = str(meta.user_api_key_hash) ?? (typeof meta.user_api_key === 'string' && /^[0-9a-f]{64}$/.test(meta.user_api_key) ? meta.user_api_key : null);
  const { hash: keyHash, rehashed } = storedKeyHash(rawKeyHash);
  const litellmCallId = str(p.litellm_call_id);
  const providerId = str(p.id);
  const callType = str(p.call_type);
  const start = instantMicros(p.startTime);
  const unscopedKey = dedupKeyOf(litellmCallId, providerId, callType, start, keyHash);
  const dedupKey = status === 'failure' ? failureDedupKeyOf(litellmCallId, providerId, callType, start, keyHash) : unscopedKey;
  const promptTokens = tokens(p.prompt_tokens);
  const completionTokens = tokens(p.completion_tokens);
  const totalTokens = tokens(p.total_tokens);
  // LiteLLM reports 0, not null, for a model its cost map lacks (litellm_logging.py:
  // get_standard_logging_object_payload takes `response_cost or 0.0`), and 0 for a cache hit
  // (Logging._process_hidden_params_and_response_cost): only the first is unpriced usage.
  const unpriced = status === 'success' && costNano === 0 && p.cache_hit !== true && (totalTokens > 0 || promptTokens + completionTokens > 0);
  const legacyStart = legacyTime(p.startTime);
  // no start time: a legacy row with none may exist whatever the cut-off (earlierBookedSql probes it)
  const legacy =
    legacyStart === null || legacyStart.getTime() < legacyBefore
      ? { dedupKey: legacyDedupKeyOf(p, litellmCallId, providerId, callType, rawKeyHash), startTime: legacyStart?.toISOString() ?? null }
      : null;

  const metadata: Record<string, unknown> = {};
  for (const k of KEEP_METADATA) if (meta[k] !== undefined && meta[k] !== null) metadata[k] = storableJson(meta[k], 1);
  if (p.end_user) metadata.end_user = storableJson(p.end_user, 1);
  if (status === 'failure' && p.error_information) metadata.error_information = storableJson(p.error_information, 1);
  if (rehashed) metadata.key_hash_rehashed = true;
  if (unpriced) metadata.unpriced = true;

  return {
    ok: true,
    item: {
      dedupKey,
      legacy,
      unscopedFailureKey: status === 'failure' ? unscopedKey : null,
      litellmCallId,
      providerId,
      keyHash,
      status,
      callType,
      model: str(p.model),
      modelGroup: str(p.model_group),
      promptTokens,
      completionTokens,
      totalTokens,
      costNano,
      unpriced,
      startTime: toDate(start),
      endTime: toDate(instantMicros(p.endTime)),
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
 * What is read of a payload (parseUsageItem, deadLetterPayload): every other top-level member is
 * content or debug data that is never looked at (messages, response, hidden_params, ... are most of
 * the bytes). `true` keeps a value whole; a nested Read keeps only those members of an object
 * value. parse.test.ts proves that parsing and dead-lettering read nothing outside it.
 */
type Read = ReadonlyMap<string, true | Read>;
const METADATA_READ: Read = new Map([...KEEP_METADATA, 'user_api_key_hash', 'user_api_key'].map((k) => [k, true as const]));
export const PAYLOAD_READ: Read = new Map<string, true | Read>([
  ...KEEP_FIELDS.map((k) => [k, true] as const),
  ['end_user', true],
  ['error_information', true],
  ['metadata', METADATA_READ],
]);

/**
 * The elements of a JSON array body, each parsed on its own when it is consumed, so a 10 MB batch
 * never exists as one string plus one tree of every payload: memory per batch is the body bytes,
 * what is read of each event, and what is kept of it. Only the members PAYLOAD_READ names are
 * decoded and parsed (skimArray); the names of the others are still told to a dead letter (see
 * memberNames). Null when the body is not one well-formed array (the caller then uses
 * splitBody); an element whose read part is not valid JSON throws SyntaxError while iterating (the
 * caller falls back the same way).
 */
export function jsonArrayItems(body: Uint8Array): Iterable<unknown> | null {
  const skim = skimArray(body);
  if (!skim) return null;
  const { bytes, slices } = skim;
  const decoder = new TextDecoder();
  return {
    *[Symbol.iterator]() {
      for (let i = 0; i < slices.length; i += 4) {
        const text = decoder.decode(bytes.subarray(slices[i]!, slices[i + 1]!));
        const value: unknown = JSON.parse(text);
        if (slices[i + 1]! - slices[i]! < slices[i + 3]! - slices[i + 2]! && value && typeof value === 'object') {
          const from = slices[i + 2]!;
          const to = slices[i + 3]!;
          UNREAD.set(value, () => Object.keys(JSON.parse(decoder.decode(body.subarray(from, to))) as object));
        }
        yield mayHoldUnstorable(text) ? storableJson(value) : value;
      }
    },
  };
}

/** The member names of an element as sent, for what skimArray left out (read again only for a dead letter). */
const UNREAD = new WeakMap<object, () => string[]>();

/** The top-level member names of a payload as it was sent, also those jsonArrayItems did not parse. */
function memberNames(p: Record<string, unknown>): string[] {
  const sent = UNREAD.get(p);
  if (!sent) return Object.keys(p);
  try {
    return sent();
  } catch {
    return Object.keys(p); // a member that is not valid JSON inside: the names that were parsed
  }
}

/** A Read compiled for comparing member names as bytes: candidates by name length. */
interface ReadBytes {
  byLength: ({ name: Uint8Array; then: true | ReadBytes }[] | undefined)[];
}
const compiled = new WeakMap<Read, ReadBytes>();
function compile(read: Read): ReadBytes {
  let c = compiled.get(read);
  if (c) return c;
  c = { byLength: [] };
  for (const [name, then] of read) {
    const bytes = new TextEncoder().encode(name);
    (c.byLength[bytes.length] ??= []).push({ name: bytes, then: then === true ? true : compile(then) });
  }
  compiled.set(read, c);
  return c;
}

/**
 * One pass over the bytes of a JSON array: each element is copied into `bytes`, an object element
 * with only the members `read` names (kept whole, or filtered by a nested Read); the others are
 * left out. A member name with an escape is kept (its bytes are not its name). Left-out values are
 * checked for structure (strings closed, brackets matched) but not decoded or parsed: they are
 * most of the bytes and were most of the work. `slices` holds, per element, [start, end) in
 * `bytes` and [start, end) in `b` (`read` true: every element whole). Null if the body is not one
 * well-formed array.
 */
export function skimArray(b: Uint8Array, read: Read | true = PAYLOAD_READ): { bytes: Uint8Array; slices: number[] } | null {
  return new Skimmer(b).array(read === true ? true : compile(read));
}

const STRING = 1;
const OPEN = 2;
const CLOSE = 3;
/** What a byte outside a string can start or end: STRING ("), OPEN ({ [), CLOSE (} ]), else 0. */
const BYTE_KIND = new Uint8Array(256);
BYTE_KIND[0x22] = STRING;
BYTE_KIND[0x7b] = BYTE_KIND[0x5b] = OPEN;
BYTE_KIND[0x7d] = BYTE_KIND[0x5d] = CLOSE;
const isWs = (c: number | undefined) => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;

class Skimmer {
  i = 0;
  /** The closing bracket expected at each depth of a left-out value (deeper nesting reads as malformed: the caller falls back to splitBody). */
  readonly closers = new Uint8Array(4096);
  o = 0;
  /** Whether the last string scanned by stringEnd had a backslash. */
  escaped = false;
  readonly out: Uint8Array;
  constructor(readonly b: Uint8Array) {
    this.out = new Uint8Array(b.length);
  }

  array(read: ReadBytes | true): { bytes: Uint8Array; slices: number[] } | null {
    const b = this.b;
    const slices: number[] = [];
    if (b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf) this.i = 3; // BOM
    this.ws();
    if (b[this.i] !== 0x5b) return null; // [
    this.i++;
    this.ws();
    if (b[this.i] === 0x5d) this.i++;
    else {
      for (;;) {
        this.ws();
        const start = this.o;
        const from = this.i;
        if (!this.value(read)) return null;
        slices.push(start, this.o, from, this.i);
        this.ws();
        const c = b[this.i++];
        if (c === 0x5d) break;
        if (c !== 0x2c) return null;
      }
    }
    this.ws();
    return this.i === b.length ? { bytes: this.out, slices } : null;
  }

  /** Copy the value at i: an object filtered by `keep`, anything else whole; false if malformed. */
  private value(keep: ReadBytes | true): boolean {
    const b = this.b;
    if (keep === true || b[this.i] !== 0x7b) {
      const end = this.valueEnd(this.i);
      if (end < 0) return false;
      this.copy(this.i, end);
      this.i = end;
      return true;
    }
    this.out[this.o++] = 0x7b;
    this.i++;
    this.ws();
    if (b[this.i] === 0x7d) {
      this.out[this.o++] = 0x7d;
      this.i++;
      return true;
    }
    for (let first = true; ; ) {
      const keyStart = this.i;
      if (b[keyStart] !== 0x22) return false;
      const keyEnd = this.stringEnd(keyStart);
      if (keyEnd < 0) return false;
      const member = this.escaped ? true : this.member(keep, keyStart + 1, keyEnd - 1);
      this.i = keyEnd;
      this.ws();
      if (b[this.i] !== 0x3a) return false; // :
      this.i++;
      this.ws();
      if (member === true) {
        // name, colon and value in one copy (the whitespace between them is valid JSON)
        const end = this.valueEnd(this.i);
        if (end < 0) return false;
        if (!first) this.out[this.o++] = 0x2c;
        first = false;
        this.copy(keyStart, end);
        this.i = end;
      } else if (member !== null) {
        if (!first) this.out[this.o++] = 0x2c;
        first = false;
        this.copy(keyStart, keyEnd);
        this.out[this.o++] = 0x3a;
        if (!this.value(member)) return false;
      } else {
        const end = this.valueEnd(this.i);
        if (end < 0) return false;
        this.i = end;
      }
      this.ws();
      const c = b[this.i++];
      if (c === 0x7d) {
        this.out[this.o++] = 0x7d;
        return true;
      }
      if (c !== 0x2c) return false;
      this.ws();
    }
  }

  /** What `keep` says of the member named b[from..to), null when it is not read. */
  private member(keep: ReadBytes, from: number, to: number): true | ReadBytes | null {
    const candidates = keep.byLength[to - from];
    if (!candidates) return null;
    const b = this.b;
    next: for (let k = 0; k < candidates.length; k++) {
      const name = candidates[k]!.name;
      for (let j = 0; j < name.length; j++) if (b[from + j] !== name[j]) continue next;
      return candidates[k]!.then;
    }
    return null;
  }

  /**
   * Index after the string opening at `at`, or -1 if it never closes. Short strings (names, ids)
   * byte by byte; from 32 bytes on, quote to quote with the native indexOf (content: long text).
   */
  private stringEnd(at: number): number {
    const b = this.b;
    const n = b.length;
    this.escaped = false;
    let j = at + 1;
    for (const short = Math.min(n, j + 32); j < short; j++) {
      const c = b[j];
      if (c === 0x22) return j + 1;
      if (c === 0x5c) {
        this.escaped = true;
        j++;
      }
    }
    if (j > n) return -1;
    // j may be just past an escaping backslash: the parity count below starts from the string's start
    for (;;) {
      const q = b.indexOf(0x22, j);
      if (q < 0) return -1;
      let k = q - 1;
      while (k > at && b[k] === 0x5c) k--;
      const backslashes = q - 1 - k;
      if (backslashes > 0) this.escaped = true;
      if (backslashes % 2 === 0) return q + 1;
      j = q + 1;
    }
  }

  /** Index after the value starting at `at` (structure only), or -1. */
  private valueEnd(at: number): number {
    const b = this.b;
    const n = b.length;
    const c = b[at];
    if (c === 0x22) return this.stringEnd(at);
    if (c === 0x7b || c === 0x5b) {
      const closers = this.closers;
      let depth = 0;
      for (let j = at; j < n; j++) {
        const kind = BYTE_KIND[b[j]!]!;
        if (kind === 0) continue;
        if (kind === STRING) {
          j = this.stringEnd(j) - 1;
          if (j < 0) return -1;
        } else if (kind === OPEN) closers[depth++] = b[j] === 0x7b ? 0x7d : 0x5d;
        else if (depth === 0 || closers[--depth] !== b[j]) return -1;
        else if (depth === 0) return j + 1;
      }
      return -1;
    }
    let j = at;
    while (j < n && BYTE_KIND[b[j]!] !== CLOSE && b[j] !== 0x2c && !isWs(b[j])) j++;
    return j > at ? j : -1;
  }

  private ws(): void {
    const b = this.b;
    let i = this.i;
    for (;;) {
      const c = b[i];
      if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) break;
      i++;
    }
    this.i = i;
  }

  private copy(from: number, to: number): void {
    const b = this.b;
    const out = this.out;
    let o = this.o;
    if (to - from > 64) {
      out.set(b.subarray(from, to), o);
      o += to - from;
    } else for (let j = from; j < to; j++) out[o++] = b[j]!;
    this.o = o;
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
