/**
 * A stand-in for Prisma's native query-engine binary, for prisma-client-py (the database layer of
 * LiteLLM's proxy): it serves the binary engine's HTTP protocol and answers every request from the
 * real Prisma engine compiled to WebAssembly (./engine.ts), translating GraphQL-protocol bodies to
 * the JSON protocol and the answers back (./translate.ts). Test and development tooling only;
 * production runs LiteLLM's official image with its native engines.
 *
 * How prisma-client-py drives it (prisma/engine/_query.py, BaseQueryEngine._spawn_process and
 * AsyncQueryEngine.spawn/query/start_transaction): `<binary> -p <port> --enable-metrics
 * --enable-raw-queries` with PRISMA_DML_PATH (the schema file) and OVERWRITE_DATASOURCES (optional
 * JSON [{name, url}]) in the environment; then `GET /status` until it answers, `POST /` with
 * {query, variables} or {batch: [{query, variables}], transaction}, header X-transaction-id inside
 * interactive transactions, `POST /transaction/start` {max_wait, timeout},
 * `POST /transaction/<id>/commit|rollback`, `GET /metrics?format=…`.
 */
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { parseDatamodel } from './datamodel.js';
import { datasourceUrl, startEngine } from './engine.js';
import { answer, translateQuery, type Translated } from './translate.js';

function arg(names: string[]): string | undefined {
  const i = process.argv.findIndex((a) => names.includes(a));
  return i >= 0 ? process.argv[i + 1] : undefined;
}

// Lifecycle first, before anything is awaited: prisma-client-py stops its engine with SIGINT at
// exit (prisma/engine/query.py), and a stop may come while the engine still starts. If LiteLLM dies
// without stopping us (SIGKILL, or it exits while we start), we are re-parented: leave too, rather
// than linger holding database connections.
let stopEngine: () => Promise<void> = async () => {};
let stopServer: () => void = () => {};
const shutdown = () => {
  stopServer();
  // The engine's disconnect can wait on pooled connections forever: give it a second, then go.
  setTimeout(() => process.exit(0), 1000);
  void stopEngine().finally(() => process.exit(0));
};
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, shutdown);
// The parent's pid as the query-engine wrapper saw it (it may be gone before node is up).
const parent = Number(process.env.ENGINE_SHIM_PARENT) || process.ppid;
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
};
setInterval(() => {
  if (!alive(parent)) shutdown();
}, 1000).unref();

const dmlPath = process.env.PRISMA_DML_PATH;
if (!dmlPath) throw new Error('engine-shim: PRISMA_DML_PATH is not set');
const port = Number(arg(['-p', '--port']) ?? '0');
const schema = readFileSync(dmlPath, 'utf8');
const dm = parseDatamodel(schema);
const { engine, close } = await startEngine(schema, datasourceUrl(schema, process.env));
stopEngine = close;

function engineError(message: string): unknown {
  return { errors: [{ error: message, user_facing_error: { is_panic: false, message, meta: {}, error_code: 'P2009' } }] };
}

async function single(body: { query: string }, txId: string | undefined): Promise<unknown> {
  let t: Translated;
  try {
    t = translateQuery(body.query, dm);
  } catch (e) {
    process.stderr.write(`[engine-shim] cannot translate: ${(e as Error).message}\n${body.query}\n`);
    return engineError(`engine-shim: ${(e as Error).message}`);
  }
  return answer(JSON.parse(await engine.query(JSON.stringify(t.json), '{}', txId)), t);
}

async function batch(body: { batch: { query: string }[]; transaction?: boolean }, txId: string | undefined): Promise<unknown> {
  const ts = body.batch.map((q) => translateQuery(q.query, dm));
  const req = { batch: ts.map((t) => t.json), ...(body.transaction ? { transaction: { isolationLevel: null } } : {}) };
  const a = JSON.parse(await engine.query(JSON.stringify(req), '{}', txId)) as { batchResult?: unknown[] };
  if (!a.batchResult) return a;
  return { batchResult: a.batchResult.map((r, i) => answer(r, ts[i]!)) };
}

async function handle(req: IncomingMessage, body: string): Promise<[number, unknown]> {
  const url = new URL(req.url ?? '/', 'http://engine');
  const txId = req.headers['x-transaction-id'] as string | undefined;
  if (req.method === 'GET' && url.pathname === '/status') return [200, { status: 'ok' }];
  if (req.method === 'GET' && url.pathname === '/metrics') return [200, url.searchParams.get('format') === 'json' ? { counters: [], gauges: [], histograms: [] } : ''];
  if (req.method !== 'POST') return [404, { error: 'not found' }];
  if (url.pathname === '/') {
    const b = JSON.parse(body) as { query?: string; batch?: { query: string }[]; transaction?: boolean };
    if (Array.isArray(b.batch)) return [200, await batch(b as { batch: { query: string }[] }, txId)];
    if (typeof b.query === 'string') return [200, await single(b as { query: string }, txId)];
    return [400, engineError('engine-shim: body has neither query nor batch')];
  }
  if (url.pathname === '/transaction/start') return [200, JSON.parse(await engine.startTransaction(body || '{}', '{}'))];
  const m = /^\/transaction\/([^/]+)\/(commit|rollback)$/.exec(url.pathname);
  if (m) {
    const out = m[2] === 'commit' ? await engine.commitTransaction(m[1]!, '{}') : await engine.rollbackTransaction(m[1]!, '{}');
    return [200, JSON.parse(out || '{}')];
  }
  return [404, { error: 'not found' }];
}

function send(res: ServerResponse, status: number, payload: unknown): void {
  const text = typeof payload === 'string' ? payload : JSON.stringify(payload);
  res.writeHead(status, { 'content-type': typeof payload === 'string' ? 'text/plain' : 'application/json' });
  res.end(text);
}

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    handle(req, Buffer.concat(chunks).toString('utf8')).then(
      ([status, payload]) => send(res, status, payload),
      (e: unknown) => {
        process.stderr.write(`[engine-shim] ${(e as Error).stack ?? String(e)}\n`);
        send(res, 500, engineError(`engine-shim: ${(e as Error).message}`));
      },
    );
  });
});
server.keepAliveTimeout = 60_000;
server.listen(port, '127.0.0.1');
stopServer = () => {
  server.close();
  server.closeAllConnections();
};
