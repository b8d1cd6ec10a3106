/**
 * The Prisma query engine of the commit prisma-client-py 0.15 pins (Prisma 5.17.0,
 * 393aa359c9ad4a4bb28630fb5613f9c281cde053), compiled to WebAssembly (@prisma/query-engine-wasm),
 * over node-postgres through @prisma/adapter-pg. Every answer of the shim comes from here.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { PrismaPg } from '@prisma/adapter-pg';
import { bindAdapter } from '@prisma/driver-adapter-utils';
import pg from 'pg';

export interface WasmEngine {
  query(body: string, trace: string, txId?: string): Promise<string>;
  startTransaction(input: string, trace: string): Promise<string>;
  commitTransaction(txId: string, trace: string): Promise<string>;
  rollbackTransaction(txId: string, trace: string): Promise<string>;
  disconnect(trace: string): Promise<void>;
}

/** Prisma's connection-string parameters that node-postgres does not know (pool size is ours). */
const PRISMA_PARAMS = ['connection_limit', 'pool_timeout', 'connect_timeout', 'socket_timeout', 'pgbouncer',
  'statement_cache_size', 'schema', 'sslaccept', 'max_idle_connection_lifetime', 'max_connection_lifetime'];

/** The datasource URL: OVERWRITE_DATASOURCES wins, else the env var named by `url = env("…")`. */
export function datasourceUrl(schema: string, env: NodeJS.ProcessEnv): string {
  if (env.OVERWRITE_DATASOURCES) {
    const list = JSON.parse(env.OVERWRITE_DATASOURCES) as { url?: string }[];
    if (list[0]?.url) return list[0].url;
  }
  const name = /url\s*=\s*env\("([^"]+)"\)/.exec(schema)?.[1] ?? 'DATABASE_URL';
  const url = env[name];
  if (!url) throw new Error(`engine-shim: ${name} is not set`);
  return url;
}

export function poolConfig(url: string): pg.PoolConfig {
  const u = new URL(url);
  const max = Number(u.searchParams.get('connection_limit') ?? '') || 10;
  const schema = u.searchParams.get('schema');
  for (const p of PRISMA_PARAMS) u.searchParams.delete(p);
  const cfg: pg.PoolConfig = { connectionString: u.toString(), max };
  if (schema && schema !== 'public') cfg.options = `-c search_path=${schema}`;
  return cfg;
}

/**
 * PostgreSQL types that @prisma/adapter-pg 5.17 refuses in raw results ("Failed to deserialize
 * column of type 'Unknown'", its fieldToColumnType) but that are plain text to the native engine:
 * `name`, `"char"` and their arrays. LiteLLM's start-up needs them: PrismaClient.check_view_exists
 * (proxy/utils.py) selects ARRAY_AGG(viewname) from pg_views, a name[]. The values are relabelled
 * as text / text[] (parsed with the adapter's own postgres-array) before the adapter reads them.
 */
const TEXT = 25;
const TEXT_ARRAY = 1009;
const AS_TEXT = new Map([[19, TEXT], [18, TEXT], [1003, TEXT_ARRAY], [1002, TEXT_ARRAY]]);

interface PgResult { fields: { dataTypeID: number }[]; rows: unknown[][] }

export function relabelTextTypes(result: PgResult, parseArray: (s: string) => unknown[]): PgResult {
  result.fields?.forEach((f, i) => {
    const to = AS_TEXT.get(f.dataTypeID);
    if (to === undefined) return;
    if (to === TEXT_ARRAY) {
      for (const row of result.rows) if (typeof row[i] === 'string') row[i] = parseArray(row[i] as string);
    }
    f.dataTypeID = to;
  });
  return result;
}

/** Applies relabelTextTypes to every result of the adapter (pool and transactions alike go
 *  through PgQueryable.performIO, @prisma/adapter-pg dist/index.js). */
function patchAdapter(parseArray: (s: string) => unknown[]): void {
  const queryable = Object.getPrototypeOf(PrismaPg.prototype) as { performIO(q: unknown): Promise<{ ok: boolean; value?: PgResult }>; __textTypes?: true };
  if (queryable.__textTypes) return;
  const performIO = queryable.performIO;
  queryable.performIO = async function (this: unknown, q: unknown) {
    const r = await performIO.call(this, q);
    if (r.ok && r.value) relabelTextTypes(r.value, parseArray);
    return r;
  };
  queryable.__textTypes = true;
}

export async function startEngine(datamodel: string, url: string): Promise<{ engine: WasmEngine; close(): Promise<void> }> {
  const require = createRequire(import.meta.url);
  const dir = join(dirname(require.resolve('@prisma/query-engine-wasm/package.json')), 'postgresql');
  const bg = (await import(join(dir, 'query_engine_bg.js'))) as {
    __wbg_set_wasm(exports: object): void;
    QueryEngine: new (options: object, log: (line: string) => void, adapter: object) => WasmEngine & { connect(t: string): Promise<void> };
  };
  // The ES-module glue imports the .wasm directly, which Node cannot; instantiate it by hand with
  // the glue's functions as its imports (what a bundler does), then hand the exports to the glue.
  const wasm = (globalThis as unknown as { WebAssembly: { instantiate(b: Buffer, i: object): Promise<{ instance: { exports: object } }> } }).WebAssembly;
  const { instance } = await wasm.instantiate(readFileSync(join(dir, 'query_engine_bg.wasm')), { './query_engine_bg.js': bg });
  bg.__wbg_set_wasm(instance.exports);
  const parseArray = (createRequire(require.resolve('@prisma/adapter-pg'))('postgres-array') as { parse(s: string): unknown[] }).parse;
  patchAdapter(parseArray);
  const pool = new pg.Pool(poolConfig(url));
  const adapter = bindAdapter(new PrismaPg(pool));
  const engine = new bg.QueryEngine({ datamodel, logLevel: 'error', logQueries: false }, (line) => {
    if (line.includes('"level":"ERROR"') || line.includes('"level":"error"')) process.stderr.write(`[engine-shim] ${line}\n`);
  }, adapter);
  await engine.connect('{}');
  return {
    engine,
    async close() {
      await engine.disconnect('{}').catch(() => {});
      await pool.end();
    },
  };
}
