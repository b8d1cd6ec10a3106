import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import { openPostgres } from '../../src/db/client.js';
import { testDatabaseUrl, withDatabase } from './env.js';

/**
 * With TEST_DATABASE_URL (real PostgreSQL): build one migrated template database for this run;
 * each test file then clones it (CREATE DATABASE … TEMPLATE), so files are isolated and fast.
 * The name is unique per run (concurrent runs on one server never collide) and handed to the
 * workers through the environment; every project of the run shares it. Without a URL, every
 * file uses its own in-memory PGlite.
 */
export default async function setup() {
  const url = testDatabaseUrl();
  if (!url || process.env.COMPANION_TEST_TEMPLATE) return;
  const name = `companion_tpl_${randomBytes(5).toString('hex')}`;
  const admin = postgres(url, { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`create database ${name}`);
  } finally {
    await admin.end();
  }
  const db = await openPostgres(withDatabase(url, name), 1);
  await db.close();
  process.env.COMPANION_TEST_TEMPLATE = name;
  return async () => {
    const a = postgres(url, { max: 1, onnotice: () => {} });
    await a.unsafe(`drop database if exists ${name} with (force)`).finally(() => a.end());
    delete process.env.COMPANION_TEST_TEMPLATE;
  };
}
