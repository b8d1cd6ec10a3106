/**
 * Typed client of LiteLLM's key admin API (shared/LITELLM.md).
 *
 * Every call sends the master key as a Bearer token and is bounded by a timeout. USD amounts are
 * LiteLLM's floats and pass through untouched: converting to ledger integers happens elsewhere.
 * Failures throw LiteLLMError (errors.ts); "not found" answers that callers treat as a normal
 * outcome (key info of an unknown key, deleting an already-deleted key) are returned instead.
 */
import { createHash } from 'node:crypto';
import { Agent, errors as undiciErrors, request } from 'undici';
import type { z } from 'zod';
import { semaphore } from '../lib/semaphore.js';
import { LiteLLMError, describeNetworkError, readErrorBody } from './errors.js';
import * as s from './schemas.js';

export interface LiteLLMClientOptions {
  baseUrl: string;
  masterKey: string;
  /** Per-request timeout; default 10 s. */
  timeoutMs?: number;
  /**
   * Requests at once to LiteLLM from this process, whoever makes them (outbox drains, the
   * reconciler, provisioning); the rest wait their turn before their timeout starts. Default 32:
   * the real proxy runs one worker, and 128 at once made its /key/update answers time out.
   */
  maxInFlight?: number;
}

export interface GenerateKeyInput {
  keyAlias: string;
  userId: string;
  maxBudgetUsd: number;
  metadata: Record<string, unknown>;
  blocked?: boolean;
}

export interface GeneratedKey {
  /** Plaintext `sk-...`; LiteLLM shows it only this once. */
  key: string;
  /** sha256 hex of `key`: LiteLLM's `token`, and `metadata.user_api_key_hash` in usage events. */
  token: string;
  keyAlias: string;
  expires: string | null;
}

export interface UpdateKeyInput {
  maxBudgetUsd?: number;
  blocked?: boolean;
  metadata?: Record<string, unknown>;
}

export interface BudgetUpdate {
  keyOrHash: string;
  maxBudgetUsd: number;
}

export interface BulkUpdateResult {
  /** The keys LiteLLM updated, as passed. */
  updated: string[];
  /** The keys it did not, as passed, with LiteLLM's reason (e.g. "Key not found."). */
  failed: { keyOrHash: string; reason: string }[];
}

/** Items LiteLLM takes in one POST /key/bulk_update (bulk_update_keys, MAX_BATCH_SIZE). */
export const BULK_UPDATE_MAX = 500;

export interface KeyInfo {
  spend: number;
  maxBudget: number | null;
  blocked: boolean;
  keyAlias: string | null;
  userId: string | null;
  metadata: Record<string, unknown>;
  raw: Record<string, unknown>;
}

export interface DeleteKeysResult {
  /** What LiteLLM reports deleted (it echoes the keys as passed). */
  deleted: string[];
  /** True when LiteLLM answered "not found": the keys were already gone. Not an error. */
  notFound: boolean;
}

export interface SpendLogsQuery {
  apiKeyHash: string;
  /** `YYYY-MM-DD` (UTC). LiteLLM filters `startTime >= startDate 00:00 and <= endDate 00:00`. */
  startDate?: string;
  endDate?: string;
}

export interface SpendLog {
  requestId: string;
  apiKeyHash: string;
  spend: number;
  totalTokens: number;
  promptTokens: number;
  completionTokens: number;
  startTime: string;
  endTime: string | null;
  model: string | null;
  user: string | null;
  status: string | null;
  metadata: Record<string, unknown>;
  raw: Record<string, unknown>;
}

export interface SpendLogsPageQuery {
  apiKeyHash: string;
  /** `YYYY-MM-DD` (UTC), both required by LiteLLM's /spend/logs/v2. */
  startDate: string;
  endDate: string;
  /** 1-based. */
  page: number;
  /** At most 1,000 (LiteLLM's limit). */
  pageSize: number;
}

export interface SpendLogsPage {
  rows: SpendLog[];
  total: number;
  totalPages: number;
}

export interface LiteLLMClient {
  generateKey(input: GenerateKeyInput): Promise<GeneratedKey>;
  updateKey(keyOrHash: string, input: UpdateKeyInput): Promise<Record<string, unknown>>;
  /**
   * Absolute max_budgets of up to BULK_UPDATE_MAX keys in one request (POST /key/bulk_update).
   * Each item succeeds or fails on its own; the request throws only when LiteLLM refuses it whole.
   */
  bulkUpdateBudgets(updates: BudgetUpdate[]): Promise<BulkUpdateResult>;
  /** null for a key LiteLLM does not have: never issued, or deleted (archived). */
  keyInfo(keyOrHash: string): Promise<KeyInfo | null>;
  /** Live keys among these hashes, in one request (POST /v2/key/info); deleted and unknown ones are absent. */
  keyInfoMany(hashes: string[]): Promise<KeyInfo[]>;
  deleteKeys(keysOrHashes: string[]): Promise<DeleteKeysResult>;
  blockKey(keyOrHash: string): Promise<{ blocked: boolean }>;
  unblockKey(keyOrHash: string): Promise<{ blocked: boolean }>;
  /** The newest 10,000 rows at most (LiteLLM caps /spend/logs; prefer spendLogsPage). */
  spendLogs(query: SpendLogsQuery): Promise<SpendLog[]>;
  /** One page of /spend/logs/v2, newest first. */
  spendLogsPage(query: SpendLogsPageQuery): Promise<SpendLogsPage>;
  /** Reachability only (GET /health/liveliness); never throws. */
  health(): Promise<boolean>;
}

interface CallOptions {
  query?: Record<string, string>;
  body?: unknown;
  timeoutMs?: number;
}

interface Reply {
  status: number;
  ok: boolean;
  body: unknown;
  text: string;
}

const HEALTH_TIMEOUT_MS = 2_000;

export function createLiteLLMClient(opts: LiteLLMClientOptions): LiteLLMClient {
  const baseUrl = opts.baseUrl.replace(/\/+$/, '');
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const secrets = [opts.masterKey];

  const fail = (endpoint: string, init: Omit<ConstructorParameters<typeof LiteLLMError>[0], 'endpoint' | 'secrets'>) =>
    new LiteLLMError({ ...init, endpoint, secrets });

  // undici's request() over one keep-alive pool, not fetch(): a month boundary or a factor change
  // re-pushes every key, and fetch's web streams and per-call AbortSignal.timeout cost several
  // times the CPU per call. The timeout bounds connecting, the wait for the headers and each wait
  // for the body.
  const dispatcher = new Agent({ connections: 64, keepAliveTimeout: 30_000, connect: { timeout: timeoutMs } });

  const gate = semaphore(opts.maxInFlight ?? 32);

  /** One request, in its turn (health checks never wait behind the queue: they are not gated). */
  function call(method: 'GET' | 'POST', path: string, o: CallOptions = {}): Promise<Reply> {
    return path === '/health/liveliness' ? send(method, path, o) : gate.run(() => send(method, path, o));
  }

  async function send(method: 'GET' | 'POST', path: string, o: CallOptions = {}): Promise<Reply> {
    const endpoint = `${method} ${path}`;
    // a URL object only when there is a query to encode (building one per push showed in profiles)
    let url: string | URL = baseUrl + path;
    if (o.query) {
      url = new URL(url);
      for (const [k, v] of Object.entries(o.query)) url.searchParams.set(k, v);
    }
    const ms = o.timeoutMs ?? timeoutMs;
    let status: number;
    let text: string;
    try {
      const res = await request(url, {
        method,
        dispatcher,
        headers: {
          authorization: `Bearer ${opts.masterKey}`,
          accept: 'application/json',
          ...(o.body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: o.body === undefined ? null : JSON.stringify(o.body),
        headersTimeout: ms,
        bodyTimeout: ms,
      });
      status = res.statusCode;
      text = await res.body.text();
    } catch (err) {
      const timedOut = err instanceof undiciErrors.HeadersTimeoutError || err instanceof undiciErrors.BodyTimeoutError || err instanceof undiciErrors.ConnectTimeoutError;
      const detail = timedOut ? `no answer within ${ms} ms` : describeNetworkError(err);
      throw fail(endpoint, { code: timedOut ? 'timeout' : 'network', status: 0, detail, cause: err });
    }
    const ok = status >= 200 && status < 300;
    let body: unknown;
    try {
      body = text === '' ? undefined : (JSON.parse(text) as unknown);
    } catch {
      if (ok) throw fail(endpoint, { code: 'invalid_response', status, detail: 'body is not JSON' });
      body = undefined;
    }
    return { status, ok, body, text };
  }

  function httpError(endpoint: string, reply: Reply): LiteLLMError {
    const { message, type } = readErrorBody(reply.body, reply.text);
    return fail(endpoint, { code: 'http', status: reply.status, detail: message, errorType: type });
  }

  function parse<T extends z.ZodType>(endpoint: string, schema: T, reply: Reply): z.infer<T> {
    const parsed = schema.safeParse(reply.body);
    if (parsed.success) return parsed.data;
    const where = parsed.error.issues.map((i) => i.path.join('.') || '(root)').join(', ');
    throw fail(endpoint, { code: 'invalid_response', status: reply.status, detail: `unexpected shape at ${where}` });
  }

  async function post<T extends z.ZodType>(path: string, body: unknown, schema: T): Promise<z.infer<T>> {
    const reply = await call('POST', path, { body });
    if (!reply.ok) throw httpError(`POST ${path}`, reply);
    return parse(`POST ${path}`, schema, reply);
  }

  return {
    async generateKey(input) {
      const body = {
        key_alias: input.keyAlias,
        user_id: input.userId,
        max_budget: input.maxBudgetUsd,
        metadata: input.metadata,
        ...(input.blocked === undefined ? {} : { blocked: input.blocked }),
      };
      const r = await post('/key/generate', body, s.generateKeyResponse);
      return {
        key: r.key,
        token: r.token ?? createHash('sha256').update(r.key).digest('hex'),
        keyAlias: r.key_alias ?? input.keyAlias,
        expires: r.expires ?? null,
      };
    },

    async updateKey(keyOrHash, input) {
      const body: Record<string, unknown> = { key: keyOrHash };
      if (input.maxBudgetUsd !== undefined) body.max_budget = input.maxBudgetUsd;
      if (input.blocked !== undefined) body.blocked = input.blocked;
      if (input.metadata !== undefined) body.metadata = input.metadata;
      return post('/key/update', body, s.updateKeyResponse);
    },

    async bulkUpdateBudgets(updates) {
      if (updates.length === 0) return { updated: [], failed: [] };
      if (updates.length > BULK_UPDATE_MAX) throw new RangeError(`bulkUpdateBudgets: at most ${BULK_UPDATE_MAX} keys per call, got ${updates.length}`);
      // proxy/management_endpoints/key_management_endpoints.py, bulk_update_keys: proxy admin only
      // (403), 400 for no keys or more than 500; each item goes through _process_single_key_update,
      // the same validations, write and cache invalidation as /key/update, one after another, and
      // lands in successful_updates or failed_updates (failed_reason: the HTTPException's
      // detail.error or the ProxyException's message, e.g. "Key not found.").
      const body = { keys: updates.map((u) => ({ key: u.keyOrHash, max_budget: u.maxBudgetUsd })) };
      const r = await post('/key/bulk_update', body, s.bulkUpdateResponse);
      const asked = new Set(updates.map((u) => u.keyOrHash));
      const updated = r.successful_updates.map((u) => u.key).filter((k) => asked.has(k));
      const failed = r.failed_updates.filter((f) => asked.has(f.key)).map((f) => ({ keyOrHash: f.key, reason: f.failed_reason }));
      if (updated.length + failed.length !== updates.length) {
        throw fail('POST /key/bulk_update', { code: 'invalid_response', status: 200, detail: `answered for ${updated.length + failed.length} of ${updates.length} keys` });
      }
      return { updated, failed };
    },

    async keyInfo(keyOrHash) {
      const reply = await call('GET', '/key/info', { query: { key: keyOrHash } });
      if (reply.status === 404) return null;
      if (!reply.ok) throw httpError('GET /key/info', reply);
      const { info } = parse('GET /key/info', s.keyInfoResponse, reply);
      // A deleted key answers 200 from LiteLLM's archive of deleted keys, with status "deleted"
      // (proxy/management_endpoints/key_management_endpoints.py, info_key_fn → _find_deleted_key_info).
      if (info.status === 'deleted') return null;
      return toKeyInfo(info);
    },

    async keyInfoMany(hashes) {
      if (hashes.length === 0) return [];
      // Rows come without `token` (key_management_endpoints.py, info_key_fn_v2); match them by alias.
      const r = await post('/v2/key/info', { keys: hashes }, s.keyInfoManyResponse);
      return r.info.filter((i) => i.status !== 'deleted').map(toKeyInfo);
    },

    async deleteKeys(keysOrHashes) {
      if (keysOrHashes.length === 0) return { deleted: [], notFound: false };
      const reply = await call('POST', '/key/delete', { body: { keys: keysOrHashes } });
      // LiteLLM answers 404 when none of the keys exist (older versions: 400 "not found").
      const notFound =
        reply.status === 404 ||
        (reply.status === 400 && /not found/i.test(readErrorBody(reply.body, reply.text).message));
      if (notFound) return { deleted: [], notFound: true };
      if (!reply.ok) throw httpError('POST /key/delete', reply);
      return { deleted: parse('POST /key/delete', s.deleteKeysResponse, reply).deleted_keys, notFound: false };
    },

    async blockKey(keyOrHash) {
      const r = await post('/key/block', { key: keyOrHash }, s.blockKeyResponse);
      return { blocked: r.blocked === true };
    },

    async unblockKey(keyOrHash) {
      const r = await post('/key/unblock', { key: keyOrHash }, s.blockKeyResponse);
      return { blocked: r.blocked === true };
    },

    async spendLogs(q) {
      if ((q.startDate === undefined) !== (q.endDate === undefined)) {
        throw new TypeError('spendLogs: give both startDate and endDate, or neither');
      }
      const query: Record<string, string> = { api_key: q.apiKeyHash };
      // With a date range LiteLLM summarizes per day unless told not to.
      if (q.startDate && q.endDate) {
        Object.assign(query, { start_date: q.startDate, end_date: q.endDate, summarize: 'false' });
      }
      const reply = await call('GET', '/spend/logs', { query });
      if (!reply.ok) throw httpError('GET /spend/logs', reply);
      const rows = parse('GET /spend/logs', s.spendLogsResponse, reply).filter((r) => r !== null);
      return rows.map((row) => toSpendLog(parse('GET /spend/logs', s.spendLogRow, { ...reply, body: row })));
    },

    async spendLogsPage(q) {
      // proxy/spend_tracking/spend_management_endpoints.py, ui_view_spend_logs: start/end dates
      // required, page >= 1, 1 <= page_size <= 1000; answers {data, total, page, page_size, total_pages}.
      const query = { api_key: q.apiKeyHash, start_date: q.startDate, end_date: q.endDate, page: String(q.page), page_size: String(q.pageSize) };
      const reply = await call('GET', '/spend/logs/v2', { query });
      if (!reply.ok) throw httpError('GET /spend/logs/v2', reply);
      const r = parse('GET /spend/logs/v2', s.spendLogsPageResponse, reply);
      return {
        rows: r.data.map((row) => toSpendLog(parse('GET /spend/logs/v2', s.spendLogRow, { ...reply, body: row }))),
        total: r.total,
        totalPages: r.total_pages,
      };
    },

    async health() {
      try {
        const reply = await call('GET', '/health/liveliness', { timeoutMs: Math.min(timeoutMs, HEALTH_TIMEOUT_MS) });
        return reply.ok;
      } catch {
        return false;
      }
    },
  };
}

function toKeyInfo(info: s.KeyInfoRow): KeyInfo {
  return {
    spend: info.spend ?? 0,
    maxBudget: info.max_budget ?? null,
    blocked: info.blocked === true,
    keyAlias: info.key_alias ?? null,
    userId: info.user_id ?? null,
    metadata: info.metadata,
    raw: info,
  };
}

function toSpendLog(r: s.SpendLogRowRaw): SpendLog {
  return {
    requestId: r.request_id,
    apiKeyHash: r.api_key,
    spend: r.spend,
    totalTokens: r.total_tokens ?? 0,
    promptTokens: r.prompt_tokens ?? 0,
    completionTokens: r.completion_tokens ?? 0,
    startTime: r.startTime,
    endTime: r.endTime ?? null,
    model: r.model ?? null,
    user: r.user ?? null,
    status: r.status ?? null,
    metadata: r.metadata,
    raw: r,
  };
}
