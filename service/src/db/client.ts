import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sql, type SQL } from 'drizzle-orm';
import type { PgDatabase, PgQueryResultHKT, PgTransaction } from 'drizzle-orm/pg-core';
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js';
import { migrate as migratePostgres } from 'drizzle-orm/postgres-js/migrator';
import postgres from 'postgres';
import * as schema from './schema/index.js';
import { chooseTransport, type Transport } from './transport.js';

export type Schema = typeof schema;
export type Db = PgDatabase<PgQueryResultHKT, Schema>;
export type Tx = PgTransaction<PgQueryResultHKT, Schema, any>;
/** Anything that runs queries: the database or an open transaction. */
export type Queryable = Db | Tx;

export interface Database {
  db: Db;
  kind: 'postgres' | 'pglite';
  close(): Promise<void>;
}

/** The repository's migrations/ folder, found from this module (source tree or bundled dist/). */
export const MIGRATIONS_DIR = findMigrations(dirname(fileURLToPath(import.meta.url)));

function findMigrations(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    const candidate = join(dir, 'migrations');
    if (existsSync(join(candidate, 'meta', '_journal.json'))) return candidate;
    if (dirname(dir) === dir) throw new Error(`no migrations/ folder above ${from}`);
  }
}

/** Advisory lock id for migrations (several replicas may start at once). */
const MIGRATION_LOCK = 7_302_001;

export async function openPostgres(url: string, poolSize = 10, unixSocket: 'auto' | 'off' = 'off'): Promise<Database & { transport: Transport }> {
  await migratePostgresLocked(url);
  const transport = await chooseTransport(url, unixSocket);
  const client = postgres(url, {
    ...transport.options,
    max: poolSize,
    onnotice: () => {},
    connection: { application_name: 'companion' },
    // postgres.js backs off 3^retries/100 s (up to 20 s) after failed connects: after a database
    // restart, requests would hang that long instead of being served. Retry within a second.
    backoff: (retries: number) => Math.min(0.05 * 2 ** retries, 1),
  });
  const db = drizzlePostgres(preparing(client), { schema }) as unknown as Db;
  return { db, kind: 'postgres', transport, close: () => client.end({ timeout: 5 }) };
}

/** Statement texts postgres.js may keep prepared (per connection, until the connection is recycled). */
const MAX_PREPARED = 512;
/** A text with more parameters than this is a list of values whose length varies: not worth a name. */
const MAX_PREPARED_PARAMS = 32;

/**
 * The client drizzle gets, preparing the statements the service runs over and over. drizzle runs
 * every query through `client.unsafe(text, params, { prepare: false })` (drizzle-orm
 * postgres-js/session.js, PostgresJsPreparedQuery.execute: `prepare` is set only for a query
 * given a name with `.prepare(name)`), and postgres.js then sends an unnamed statement that it
 * describes first to learn the parameter types (postgres/src/connection.js, build:
 * `describeFirst = parameters.length && !prepared`), answered only in ParameterDescription:
 * TWO round trips and a fresh parse and plan on the server for every query. A prepared
 * statement is described once per connection and then only bound and executed, one round trip.
 * Which texts: those with few parameters (stable text, no variable-length list), the first
 * MAX_PREPARED distinct ones — so the per-connection statement cache (postgres.js keeps it for
 * the connection's life; max_lifetime recycles connections) stays bounded whatever queries come.
 * Transactions and savepoints hand drizzle a new client: it is wrapped the same way.
 */
function preparing<T extends postgres.Sql>(client: T, texts = new Set<string>()): T {
  return new Proxy(client, {
    get(target, prop, receiver) {
      if (prop === 'unsafe') {
        return (text: string, params: unknown[] = [], options: Record<string, unknown> = {}) => {
          let worth = params.length > 0 && params.length <= MAX_PREPARED_PARAMS && texts.has(text);
          if (!worth && params.length > 0 && params.length <= MAX_PREPARED_PARAMS && texts.size < MAX_PREPARED) {
            texts.add(text);
            worth = true;
          }
          return target.unsafe(text, params as never, { ...options, prepare: worth });
        };
      }
      if (prop === 'begin' || prop === 'savepoint') {
        const open = Reflect.get(target, prop, receiver) as (...a: unknown[]) => Promise<unknown>;
        return (...args: unknown[]) => {
          const fn = args.pop() as (inner: postgres.Sql) => unknown;
          return open.call(target, ...args, (inner: postgres.Sql) => fn(preparing(inner, texts)));
        };
      }
      return Reflect.get(target, prop, receiver);
    },
  });
}

async function migratePostgresLocked(url: string): Promise<void> {
  const client = postgres(url, { max: 1, onnotice: () => {} });
  try {
    await client`select pg_advisory_lock(${MIGRATION_LOCK})`;
    await migratePostgres(drizzlePostgres(client), { migrationsFolder: MIGRATIONS_DIR });
    await client`select pg_advisory_unlock(${MIGRATION_LOCK})`;
  } finally {
    await client.end({ timeout: 5 });
  }
}

/**
 * Embedded PostgreSQL (WASM). `dataDir` undefined → in memory (tests). Loaded only when used, so
 * a service on PostgreSQL never carries it.
 */
export async function openPglite(dataDir?: string): Promise<Database> {
  const [{ PGlite }, { drizzle: drizzlePglite }, { migrate: migratePglite }] = await Promise.all([
    import('@electric-sql/pglite'),
    import('drizzle-orm/pglite'),
    import('drizzle-orm/pglite/migrator'),
  ]);
  if (dataDir) mkdirSync(dataDir, { recursive: true });
  const client = dataDir ? new PGlite(dataDir) : new PGlite();
  const db = drizzlePglite(client, { schema });
  await migratePglite(db, { migrationsFolder: MIGRATIONS_DIR });
  return { db: db as unknown as Db, kind: 'pglite', close: () => client.close() };
}

/** Run raw SQL and get rows back, whatever the driver. */
export async function rows<T>(q: Queryable, query: SQL): Promise<T[]> {
  const result = (await q.execute(query)) as unknown;
  return (Array.isArray(result) ? result : (result as { rows: T[] }).rows) as T[];
}

export async function one<T>(q: Queryable, query: SQL): Promise<T | undefined> {
  return (await rows<T>(q, query))[0];
}

export { sql };

/**
 * `column = ${anyOf(list)}`: the column is one of these text values, sent as one JSON parameter.
 * An array (one InitPlan, then `= ANY`), not `in (select json_array_elements_text(...))`: the
 * planner guesses 100 rows for that set function, and against a table whose statistics lag
 * behind (the outbox grows by 100,000 rows at a month boundary) it chose a nested loop that
 * re-ran the function per row — 1.2 s per statement instead of 1 ms.
 */
export function anyOf(values: readonly string[]): SQL {
  return sql`any(array(select json_array_elements_text(${JSON.stringify(values)}::json)))`;
}
