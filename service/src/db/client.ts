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
  const db = drizzlePostgres(client, { schema }) as unknown as Db;
  return { db, kind: 'postgres', transport, close: () => client.end({ timeout: 5 }) };
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
