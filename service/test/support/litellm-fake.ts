/**
 * Contract fake of the LiteLLM proxy, mirroring the pinned LiteLLM 1.103.7. The real proxy with its
 * database runs in the tests too (support/litellm-real.ts); the fake stays for what the real one
 * cannot do on demand (down, slow, erroring: `faults`), and it passes the same contract suite
 * (litellm-contract.int.test.ts). Behaviours, from LiteLLM's source (litellm/proxy/…):
 * - `/key/info` echoes the key as passed; a deleted key answers 200 from the deleted-keys archive
 *   with `info.status: "deleted"` (management_endpoints/key_management_endpoints.py, info_key_fn →
 *   _find_deleted_key_info); 404 "Key not found in database" only for keys never issued;
 * - `/key/update` of an unknown key: 404 not_found_error "Key not found." (update_key_fn); a
 *   negative max_budget: 400 "max_budget must be a non-negative finite number" (same function);
 *   the answer is the whole updated row;
 * - `POST /key/bulk_update {keys: [{key, max_budget}]}`: proxy admin only, 400 for no keys or more than
 *   500; each item validated and written as /key/update, one after another, into
 *   `successful_updates` (key as passed, key_info without token) or `failed_updates` with
 *   `failed_reason` "Key not found." / "max_budget must be …" (bulk_update_keys);
 * - `POST /v2/key/info {keys}`: the live rows, without `token` (info_key_fn_v2);
 * - `/key/delete` answers 404 only when NONE of the keys exist, else echoes every key passed;
 * - `/spend/logs` with both dates summarizes per day unless `summarize=false`, and returns at most
 *   the newest 10,000 rows, flagged `x-litellm-spend-logs-truncated: true`
 *   (spend_tracking/spend_management_endpoints.py, SPEND_LOGS_PAGINATION_COUNT_CAP);
 * - chat: blocked → 401; `spend >= max_budget` → 429 budget_exceeded before the "provider call"
 *   (auth/auth_checks.py raises litellm.BudgetExceededError, status_code 429, litellm/exceptions.py);
 *   cost is added after the response, so concurrent requests can overshoot.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { serve, type HttpBindings } from '@hono/node-server';
import { Hono, type Context, type Next } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';

/** `404`: the route is missing, as on a proxy older than the endpoint (FastAPI's `{"detail": "Not Found"}`). */
export type FaultKind = 500 | 404 | 'timeout' | 'garbage' | 'reset';
type Json = Record<string, unknown>;
type Ctx = Context<{ Bindings: HttpBindings }>;

export interface FakeKeyRow extends Json {
  token: string;
  key_alias: string | null;
  user_id: string | null;
  spend: number;
  max_budget: number | null;
  blocked: boolean | null;
  metadata: Json;
}

export interface FakeCall {
  method: string;
  path: string;
  query: Record<string, string>;
  body: unknown;
  fault?: FaultKind | 'down';
}

export interface LiteLLMFakeOptions {
  masterKey: string;
  webhook?: { url: string; secret: string };
  /** USD per token by model name; default one model, `mock-model`, costing 0.00005 per call. */
  prices?: Record<string, { input: number; output: number }>;
  /** Rows /spend/logs returns at most (LiteLLM: SPEND_LOGS_PAGINATION_COUNT_CAP = 10,000). */
  spendLogsCap?: number;
  /** Added to every admin answer (the scale bench: a LiteLLM that answers in ~5 ms). */
  latencyMs?: number;
  /**
   * Added per item of a /key/bulk_update, one item after another as LiteLLM processes them
   * (bulk_update_keys loops over _process_single_key_update); default 0.
   */
  bulkItemMs?: number;
}

export interface LiteLLMFake {
  url: string;
  /** Admin requests in arrival order (faulted ones too, marked with `fault`). */
  calls: FakeCall[];
  keys(): FakeKeyRow[];
  /** How many keys match, without copying them (benches poll this over 100,000 keys). */
  countKeys(pred: (row: Readonly<FakeKeyRow>) => boolean): number;
  /** Insert keys as /key/generate would have (benches with 100,000 keys); returns nothing. */
  seedKeys(rows: { key: string; key_alias: string; user_id: string; max_budget: number }[]): void;
  getKey(keyOrHash: string): FakeKeyRow | undefined;
  /** Overwrite a key's spend (simulates drift, e.g. spend lost on a LiteLLM DB error). */
  setSpend(keyOrHash: string, usd: number): void;
  /**
   * What LiteLLM writes for a failed call (proxy/hooks/proxy_track_cost_callback.py:
   * _ProxyDBLogger._write_failure_spend_rows): one spend-log row per row given (status failure),
   * each added to the key's spend.
   */
  chargeFailure(keyOrHash: string, rows: { request_id: string; spend: number; startTime: number; prompt_tokens?: number }[]): void;
  faults: { failNext(n: number, kind: FaultKind): void; down(on: boolean): void };
  /** Await post-response work: spend updates, spend-log rows and webhook deliveries. */
  flushCallbacks(): Promise<void>;
  close(): Promise<void>;
}

export const sha256 = (s: string): string => createHash('sha256').update(s).digest('hex');
const hashOf = (keyOrHash: string): string => (keyOrHash.startsWith('sk-') ? sha256(keyOrHash) : keyOrHash);
const clone = <T>(v: T): T => structuredClone(v);

/** Python's repr() of a float, as LiteLLM prints numbers in messages (5e-05, 0.0001, 1.0). */
export function pyFloat(n: number): string {
  if (Number.isInteger(n) && Math.abs(n) < 1e16) return n.toFixed(1);
  const a = Math.abs(n);
  if (a !== 0 && (a < 1e-4 || a >= 1e16)) return n.toExponential().replace(/e([+-])(\d)$/, 'e$10$2');
  return String(n);
}
/** str() of FastAPI's `detail={"error": ...}` as it lands in ProxyException.message. */
const pyDetail = (msg: string): string => `{'error': '${msg}'}`;

function proxyError(c: Ctx, status: number, message: string, type: string, param: string | null = 'None') {
  return c.json({ error: { message, type, param, code: String(status) } }, status as ContentfulStatusCode);
}

function bearer(c: Ctx): string | undefined {
  return c.req.header('authorization')?.match(/^Bearer\s+(.+)$/i)?.[1]?.trim();
}

function authError(c: Ctx, token: string | undefined) {
  if (!token) return proxyError(c, 401, 'Authentication Error, No api key passed in.', 'auth_error');
  if (!token.startsWith('sk-')) {
    const msg = `Authentication Error, LiteLLM Virtual Key expected. Received=${token}, expected to start with 'sk-'.`;
    return proxyError(c, 401, msg, 'auth_error');
  }
  const msg = `Authentication Error, Invalid proxy server token passed. Received API Key = sk-...${token.slice(-4)}, Key Hash (Token) =${sha256(token)}. Unable to find token in cache or \`LiteLLM_VerificationTokenTable\``;
  return proxyError(c, 401, msg, 'auth_error');
}

export async function startLiteLLMFake(opts: LiteLLMFakeOptions): Promise<LiteLLMFake> {
  const prices = opts.prices ?? { 'mock-model': { input: 0.0000025, output: 0.00000125 } };
  const store = new Map<string, FakeKeyRow>();
  /** LiteLLM_DeletedVerificationToken: what /key/delete archived. */
  const deleted = new Map<string, FakeKeyRow>();
  const spendLogsCap = opts.spendLogsCap ?? 10_000;
  const spendLogs: Json[] = [];
  const calls: FakeCall[] = [];
  const queuedFaults: FaultKind[] = [];
  const hanging = new Set<() => void>();
  const pending = new Set<Promise<unknown>>();
  let isDown = false;

  const track = (work: Promise<unknown>) => {
    const p = work.catch(() => undefined);
    pending.add(p);
    void p.finally(() => pending.delete(p));
  };
  const readBody = async (c: Ctx): Promise<Json> => ((await c.req.json().catch(() => null)) ?? {}) as Json;
  const aliasTaken = (alias: unknown, except?: string) =>
    alias != null && [...store.values()].some((r) => r.key_alias === alias && r.token !== except);
  const publicRow = (row: FakeKeyRow) => {
    const { token: _t, ...rest } = clone(row);
    return { ...rest, litellm_budget_table: null, object_permission: null };
  };

  const app = new Hono<{ Bindings: HttpBindings }>();

  app.use('*', async (c, next) => {
    if (isDown) return proxyError(c, 503, 'Service Unavailable', 'internal_server_error');
    await next();
  });

  const adminGate = async (c: Ctx, next: Next) => {
    const body: unknown = c.req.method === 'POST' ? await c.req.json().catch(() => undefined) : undefined;
    const call: FakeCall = { method: c.req.method, path: c.req.path, query: c.req.query(), body };
    calls.push(call);
    const fault = queuedFaults.shift();
    if (fault !== undefined) {
      call.fault = fault;
      if (fault === 500) return proxyError(c, 500, 'Internal Server Error, injected fault', 'internal_server_error');
      if (fault === 404) return c.json({ detail: 'Not Found' }, 404);
      if (fault === 'garbage') return c.html('<html><body>502 Bad Gateway</body></html>', 200);
      if (fault === 'reset') {
        c.env.incoming.socket.destroy();
        return c.body(null, 500);
      }
      await new Promise<void>((resolve) => hanging.add(resolve));
      return c.body(null, 504);
    }
    if (opts.latencyMs) await new Promise((r) => setTimeout(r, opts.latencyMs));
    const token = bearer(c);
    if (token !== opts.masterKey) {
      const row = token ? store.get(sha256(token)) : undefined;
      if (!row) return authError(c, token);
      const msg = `Authentication Error, Only proxy admin can be used to generate, delete, update info for new keys/users/teams. Route=${c.req.path}. Your role=None. Your user_id=${row.user_id ?? 'None'}`;
      return proxyError(c, 401, msg, 'auth_error');
    }
    await next();
  };
  app.use('/key/*', adminGate);
  app.use('/v2/*', adminGate);
  app.use('/spend/*', adminGate);

  app.post('/key/generate', async (c) => {
    const b = await readBody(c);
    if (typeof b.max_budget === 'number' && b.max_budget < 0) {
      const msg = pyDetail(`max_budget must be a non-negative finite number. Received: ${pyFloat(b.max_budget)}`);
      return proxyError(c, 400, msg, 'internal_server_error');
    }
    if (aliasTaken(b.key_alias)) {
      const msg = `Key with alias '${String(b.key_alias)}' already exists. Unique key aliases across all keys are required.`;
      return proxyError(c, 400, msg, 'bad_request_error', 'key_alias');
    }
    const key = typeof b.key === 'string' ? b.key : `sk-${randomBytes(16).toString('base64url')}`;
    const now = new Date().toISOString();
    const row: FakeKeyRow = {
      token: sha256(key), key_name: `sk-...${key.slice(-4)}`, key_alias: (b.key_alias as string) ?? null,
      user_id: (b.user_id as string) ?? null, team_id: null, spend: 0, max_budget: (b.max_budget as number) ?? null,
      soft_budget: b.soft_budget ?? null, budget_duration: b.budget_duration ?? null, budget_reset_at: null,
      blocked: (b.blocked as boolean) ?? null, metadata: (b.metadata as Json) ?? {}, models: b.models ?? [],
      tpm_limit: b.tpm_limit ?? null, rpm_limit: b.rpm_limit ?? null, expires: null, created_at: now, updated_at: now,
    };
    store.set(row.token, row);
    return c.json({ ...clone(row), key, token_id: row.token, budget_id: null, litellm_budget_table: null });
  });

  app.post('/key/update', async (c) => {
    const { key, ...changes } = await readBody(c);
    if (typeof changes.max_budget === 'number' && changes.max_budget < 0) {
      const msg = pyDetail(`max_budget must be a non-negative finite number. Received: ${pyFloat(changes.max_budget)}`);
      return proxyError(c, 400, msg, 'auth_error'); // update_key_fn re-types HTTPExceptions as auth_error
    }
    const row = typeof key === 'string' ? store.get(hashOf(key)) : undefined;
    if (!row) return proxyError(c, 404, 'Key not found.', 'not_found_error', 'key');
    if (aliasTaken(changes.key_alias, row.token)) {
      const msg = `Key with alias '${String(changes.key_alias)}' already exists. Unique key aliases across all keys are required.`;
      return proxyError(c, 400, msg, 'bad_request_error', 'key_alias');
    }
    const metadata = (changes.metadata as Json | undefined) ?? row.metadata;
    Object.assign(row, changes, { metadata, updated_at: new Date().toISOString() });
    return c.json({ key, ...clone(row) });
  });

  app.post('/key/bulk_update', async (c) => {
    const items = (await readBody(c)).keys;
    if (!Array.isArray(items) || items.length === 0) return c.json({ detail: { error: 'No keys provided for update' } }, 400);
    if (items.length > 500) {
      return c.json({ detail: { error: `Maximum 500 keys can be updated at once. Found ${items.length} keys.` } }, 400);
    }
    const successful_updates: Json[] = [];
    const failed_updates: Json[] = [];
    // The items' time in one wait: the answer comes when the last one would have been written.
    if (opts.bulkItemMs) await new Promise((r) => setTimeout(r, items.length * opts.bulkItemMs!));
    for (const item of items as Json[]) {
      const key = String(item.key);
      const maxBudget = item.max_budget;
      if (typeof maxBudget === 'number' && (maxBudget < 0 || !Number.isFinite(maxBudget))) {
        const existing = store.get(hashOf(key)); // the failed item carries the row as it stands
        const reason = `max_budget must be a non-negative finite number. Received: ${pyFloat(maxBudget)}`;
        failed_updates.push({ key, key_info: existing ? publicRow(existing) : null, failed_reason: reason });
        continue;
      }
      const row = store.get(hashOf(key));
      if (!row) {
        failed_updates.push({ key, key_info: null, failed_reason: 'Key not found.' });
        continue;
      }
      if ('max_budget' in item) row.max_budget = maxBudget as number | null;
      row.updated_at = new Date().toISOString();
      successful_updates.push({ key, key_info: publicRow(row) });
    }
    return c.json({ total_requested: items.length, successful_updates, failed_updates });
  });

  app.get('/key/info', (c) => {
    const key = c.req.query('key') ?? opts.masterKey;
    const row = store.get(hashOf(key));
    if (row) return c.json({ key, info: { ...publicRow(row), status: row.blocked ? 'revoked' : 'active' } });
    const archived = deleted.get(hashOf(key));
    if (archived) return c.json({ key, info: { ...publicRow(archived), status: 'deleted' } });
    return proxyError(c, 404, 'Key not found in database', 'not_found_error', 'key');
  });

  app.post('/v2/key/info', async (c) => {
    const keys = (await readBody(c)).keys;
    if (!Array.isArray(keys)) return proxyError(c, 400, pyDetail('keys must be a list'), 'bad_request_error');
    const rows = keys.map((k) => store.get(hashOf(String(k)))).filter((r): r is FakeKeyRow => r !== undefined);
    return c.json({ key: keys, info: rows.map((r) => ({ ...publicRow(r), status: r.blocked ? 'revoked' : 'active' })) });
  });

  app.post('/key/delete', async (c) => {
    const keys = (await readBody(c)).keys;
    if (!Array.isArray(keys)) {
      return proxyError(c, 500, 'Internal Server Error, Invalid request type', 'internal_server_error');
    }
    const found = keys.map((k) => hashOf(String(k))).filter((h) => store.has(h));
    if (found.length === 0) return proxyError(c, 404, pyDetail('No keys found'), 'internal_server_error');
    for (const h of found) {
      deleted.set(h, { ...store.get(h)!, deleted_at: new Date().toISOString() });
      store.delete(h);
    }
    return c.json({ deleted_keys: keys });
  });

  for (const [path, blocked] of [['/key/block', true], ['/key/unblock', false]] as const) {
    app.post(path, async (c) => {
      const key = String((await readBody(c)).key ?? '');
      if (!key.startsWith('sk-') && !/^[0-9a-f]{64}$/.test(key)) {
        return proxyError(c, 400, 'Invalid key format.', 'bad_request_error', 'key');
      }
      const row = store.get(hashOf(key));
      if (!row) return proxyError(c, 404, `Key ${key} not found`, 'bad_request_error', 'key');
      row.blocked = blocked;
      row.updated_at = new Date().toISOString();
      return c.json(clone(row));
    });
  }

  /** The newest SPEND_LOGS_CAP rows, flagged when cut (spend_management_endpoints.py, _find_spend_logs). */
  const capped = (c: Ctx, newestFirst: Json[]) => {
    if (newestFirst.length >= spendLogsCap) c.header('x-litellm-spend-logs-truncated', 'true');
    return c.json(newestFirst.slice(0, spendLogsCap));
  };

  app.get('/spend/logs', (c) => {
    const { api_key: apiKey, start_date: start, end_date: end, summarize } = c.req.query();
    if (!start || !end) {
      const hash = apiKey === undefined ? undefined : hashOf(apiKey);
      return capped(c, spendLogs.filter((r) => hash === undefined || r.api_key === hash).reverse());
    }
    const from = Date.parse(`${start}T00:00:00Z`);
    const to = Date.parse(`${end}T00:00:00Z`);
    if (Number.isNaN(from) || Number.isNaN(to)) {
      return proxyError(c, 500, "/spend/logs Errortime data does not match format '%Y-%m-%d'", 'internal_error');
    }
    const inRange = (r: Json) => Date.parse(String(r.startTime)) >= from && Date.parse(String(r.startTime)) <= to;
    const rows = spendLogs
      .filter((r) => (apiKey === undefined || r.api_key === apiKey) && inRange(r)) // api_key is NOT hashed here
      .sort((a, b) => String(b.startTime).localeCompare(String(a.startTime)));
    if (summarize === 'false' || summarize === '0') return capped(c, rows);
    const days = new Map<string, { spend: number; users: Json; models: Json } & Json>();
    for (const r of [...rows].reverse()) {
      const day = String(r.startTime).slice(0, 10);
      const d = days.get(day) ?? { spend: 0, users: {}, models: {} };
      const add = (o: Json, k: string) => (o[k] = ((o[k] as number | undefined) ?? 0) + (r.spend as number));
      add(d, 'spend');
      add(d, String(r.api_key));
      add(d.users, String(r.user));
      add(d.models, String(r.model));
      days.set(day, d);
    }
    const out: Json[] = [...days].map(([day, d]) => ({ ...d, startTime: day }));
    // Like LiteLLM: after the last day with data, zero rows up to end_date.
    for (let t = Date.parse(`${String(out.at(-1)?.startTime)}T00:00:00Z`) + 86_400_000; t <= to; t += 86_400_000) {
      out.push({ startTime: new Date(t).toISOString().slice(0, 10), spend: 0, users: {}, models: {} });
    }
    return c.json(out);
  });

  // spend_management_endpoints.py, ui_view_spend_logs: dates required; newest first; paginated.
  app.get('/spend/logs/v2', (c) => {
    const { api_key: apiKey, start_date: start, end_date: end } = c.req.query();
    if (!start || !end) return proxyError(c, 400, 'Start date and end date are required', 'bad_request');
    const page = Number(c.req.query('page') ?? 1);
    const size = Number(c.req.query('page_size') ?? 50);
    if (!(page >= 1) || !(size >= 1 && size <= 1000)) return c.json({ detail: [{ type: 'value_error', loc: ['query', 'page_size'] }] }, 422);
    const from = Date.parse(`${start}T00:00:00Z`);
    const to = Date.parse(`${end}T00:00:00Z`);
    const rows = spendLogs
      .filter((r) => (apiKey === undefined || r.api_key === apiKey) && Date.parse(String(r.startTime)) >= from && Date.parse(String(r.startTime)) <= to)
      .sort((a, b) => String(b.startTime).localeCompare(String(a.startTime)));
    return c.json({ data: rows.slice((page - 1) * size, page * size), total: rows.length, page, page_size: size, total_pages: Math.ceil(rows.length / size), total_is_capped: false });
  });

  app.get('/health/liveliness', (c) => c.json("I'm alive!"));

  const chat = async (c: Ctx) => {
    const token = bearer(c);
    const isMaster = token === opts.masterKey;
    const row = token && !isMaster ? store.get(sha256(token)) : undefined;
    if (!token || (!isMaster && !row)) return authError(c, token);
    if (row?.blocked) {
      const msg = "Authentication Error, Key is blocked. Update via `/key/unblock` if you're admin.";
      return proxyError(c, 401, msg, 'auth_error');
    }
    if (row && row.max_budget !== null && row.spend >= row.max_budget) {
      // auth/auth_checks.py: Key=<alias> (<masked key_name>) when key_name is masked.
      const who = `${row.key_alias ?? 'key'} (${String(row.key_name)})`;
      const msg = `Budget has been exceeded! Key=${who} Current cost: ${pyFloat(row.spend)}, Max budget: ${pyFloat(row.max_budget)}`;
      return proxyError(c, 429, msg, 'budget_exceeded', null);
    }
    const body = await readBody(c);
    const model = String(body.model ?? '');
    const price = prices[model];
    if (!price) {
      const msg = pyDetail(`/chat/completions: Invalid model name passed in model=${model}. Call \`/v1/models\` to view available models for your key.`);
      return proxyError(c, 400, msg, 'None');
    }
    const startTime = Date.now() / 1000;
    const usage = { prompt_tokens: 10, completion_tokens: 20, total_tokens: 30 };
    const cost = usage.prompt_tokens * price.input + usage.completion_tokens * price.output;
    const id = `chatcmpl-${randomUUID()}`;
    const callId = randomUUID();
    const response = {
      id, created: Math.floor(startTime), model, object: 'chat.completion', system_fingerprint: null,
      choices: [{ finish_reason: 'stop', index: 0, message: { role: 'assistant', content: 'This is a mock request' } }],
      usage,
    };
    const hash = row?.token ?? sha256(opts.masterKey);
    const spendBefore = row?.spend ?? 0;
    track(new Promise((r) => setImmediate(r)).then(() => {
      const endTime = Date.now() / 1000;
      if (row) row.spend += cost;
      const meta = {
        user_api_key_hash: hash, user_api_key_alias: row?.key_alias ?? null, user_api_key_user_id: row?.user_id ?? null,
        user_api_key_team_id: null, user_api_key_org_id: null, user_api_key_end_user_id: null,
        user_api_key_spend: spendBefore, user_api_key_max_budget: row?.max_budget ?? null,
        user_api_key_request_route: c.req.path,
      };
      spendLogs.push({
        request_id: id, call_type: 'acompletion', api_key: hash, spend: cost, ...usage,
        startTime: new Date(startTime * 1000).toISOString(), endTime: new Date(endTime * 1000).toISOString(),
        model, model_group: model, custom_llm_provider: 'openai', user: row?.user_id ?? '', metadata: meta,
        cache_hit: 'False', request_tags: [], team_id: '', end_user: '', status: 'success',
      });
      if (!opts.webhook) return;
      const payload = {
        id, trace_id: randomUUID(), litellm_call_id: callId, call_type: 'acompletion', stream: false, status: 'success',
        response_cost: cost, custom_llm_provider: 'openai', ...usage, startTime, endTime, completionStartTime: endTime,
        model, model_id: `mock-${model}`, model_group: model, api_base: 'https://api.openai.com/v1', metadata: meta,
        cache_hit: null, cache_key: null, saved_cache_cost: 0, request_tags: [], end_user: '', requester_ip_address: '',
        messages: body.messages ?? [], response, error_str: null, error_information: null, model_parameters: {},
        hidden_params: { model_id: `mock-${model}`, api_base: 'https://api.openai.com/v1', response_cost: cost },
      };
      return fetch(opts.webhook.url, {
        method: 'POST',
        headers: { authorization: `Bearer ${opts.webhook.secret}`, 'content-type': 'application/json' },
        body: JSON.stringify([payload]),
      }).then((res) => res.body?.cancel(), () => undefined); // generic_api ignores the status: at most once
    }));
    c.header('x-litellm-call-id', callId);
    c.header('x-litellm-response-cost', String(cost));
    return c.json(response);
  };
  app.post('/chat/completions', chat);
  app.post('/v1/chat/completions', chat);

  const server = await new Promise<ReturnType<typeof serve>>((resolve) => {
    const s = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s));
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    calls,
    keys: () => [...store.values()].map(clone),
    countKeys(pred) {
      let n = 0;
      for (const row of store.values()) if (pred(row)) n++;
      return n;
    },
    seedKeys(rows) {
      const now = new Date().toISOString();
      for (const r of rows) {
        const token = sha256(r.key);
        store.set(token, {
          token, key_name: `sk-...${r.key.slice(-4)}`, key_alias: r.key_alias, user_id: r.user_id, team_id: null, spend: 0,
          max_budget: r.max_budget, soft_budget: null, budget_duration: null, budget_reset_at: null, blocked: null, metadata: {},
          models: [], tpm_limit: null, rpm_limit: null, expires: null, created_at: now, updated_at: now,
        });
      }
    },
    getKey: (k) => {
      const row = store.get(hashOf(k));
      return row && clone(row);
    },
    setSpend(k, usd) {
      const row = store.get(hashOf(k));
      if (!row) throw new Error(`fake: no key ${hashOf(k)}`);
      row.spend = usd;
    },
    chargeFailure(k, rows) {
      const row = store.get(hashOf(k));
      if (!row) throw new Error(`fake: no key ${hashOf(k)}`);
      for (const r of rows) {
        row.spend += r.spend;
        const at = new Date(r.startTime * 1000).toISOString();
        spendLogs.push({
          request_id: r.request_id, call_type: 'acompletion', api_key: row.token, spend: r.spend, prompt_tokens: r.prompt_tokens ?? 0,
          completion_tokens: 0, total_tokens: r.prompt_tokens ?? 0, startTime: at, endTime: at, model: 'slow', model_group: 'slow',
          custom_llm_provider: 'openai', user: row.user_id ?? '', metadata: { status: 'failure' }, cache_hit: 'False', request_tags: [],
          team_id: '', end_user: '', status: 'failure',
        });
      }
    },
    faults: {
      failNext: (n, kind) => queuedFaults.push(...Array<FaultKind>(n).fill(kind)),
      down: (on) => void (isDown = on),
    },
    async flushCallbacks() {
      while (pending.size > 0) await Promise.allSettled([...pending]);
    },
    async close() {
      for (const release of hanging) release();
      hanging.clear();
      await Promise.allSettled([...pending]);
      await new Promise<void>((resolve) => {
        if ('closeAllConnections' in server) server.closeAllConnections();
        server.close(() => resolve());
      });
    },
  };
}
