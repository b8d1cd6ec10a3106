import postgres from 'postgres';
import { openPostgres } from '../../src/db/client.js';
import { TEMPLATE_DB, testDatabaseUrl, withDatabase } from './env.js';

/**
 * With TEST_DATABASE_URL (real PostgreSQL): build one migrated template database; each test
 * file then clones it (CREATE DATABASE … TEMPLATE), so files are isolated and fast.
 * Without it, every file uses its own in-memory PGlite.
 */
export default async function setup() {
  const url = testDatabaseUrl();
  if (!url) return;
  const admin = postgres(url, { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`drop database if exists ${TEMPLATE_DB} with (force)`);
    await admin.unsafe(`create database ${TEMPLATE_DB}`);
  } finally {
    await admin.end();
  }
  const db = await openPostgres(withDatabase(url, TEMPLATE_DB), 1);
  await db.close();
}
