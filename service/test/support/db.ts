import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import { openPglite, openPostgres, type Database } from '../../src/db/client.js';
import { templateDb, testDatabaseUrl, withDatabase } from './env.js';

export interface TestDatabase extends Database {
  /** Connection URL (real PostgreSQL only): for tests that open more connections. */
  url?: string;
}

/** A fresh, migrated database for one test file. */
export async function createTestDatabase(poolSize = 10): Promise<TestDatabase> {
  const base = testDatabaseUrl();
  if (!base) return openPglite();
  const name = `t_${randomBytes(6).toString('hex')}`;
  const admin = postgres(base, { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`create database ${name} template ${templateDb()}`);
  } finally {
    await admin.end();
  }
  const url = withDatabase(base, name);
  const db = await openPostgres(url, poolSize);
  return {
    ...db,
    url,
    async close() {
      await db.close();
      const a = postgres(base, { max: 1, onnotice: () => {} });
      await a.unsafe(`drop database if exists ${name} with (force)`).finally(() => a.end());
    },
  };
}

export const isPostgres = () => testDatabaseUrl() !== undefined;
