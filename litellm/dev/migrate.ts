/**
 * Creates LiteLLM's database schema without Prisma's schema engine (a native binary we cannot
 * download): applies the ordered migration.sql files that litellm-proxy-extras ships
 * (litellm_proxy_extras/migrations/<timestamp>_<name>/migration.sql — the same files LiteLLM's own
 * `prisma migrate deploy` would apply, litellm_proxy_extras/utils.py ProxyExtrasDBManager) and
 * records each in `_prisma_migrations` exactly as Prisma does (id, sha256 checksum, finished_at,
 * applied_steps_count), so the real Prisma would see them as applied. Idempotent; concurrent runs
 * serialise on an advisory lock. Creates the database itself when it does not exist.
 *
 * Usage: node --import tsx litellm/dev/migrate.ts <migrations dir> <database url>
 */
import { createHash, randomUUID } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import postgres from 'postgres';

const PRISMA_MIGRATIONS = `CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
  "id" VARCHAR(36) PRIMARY KEY NOT NULL,
  "checksum" VARCHAR(64) NOT NULL,
  "finished_at" TIMESTAMPTZ,
  "migration_name" VARCHAR(255) NOT NULL,
  "logs" TEXT,
  "rolled_back_at" TIMESTAMPTZ,
  "started_at" TIMESTAMPTZ NOT NULL DEFAULT now(),
  "applied_steps_count" INTEGER NOT NULL DEFAULT 0
)`;

export function migrationNames(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(join(dir, d.name, 'migration.sql')))
    .map((d) => d.name)
    .sort();
}

async function ensureDatabase(url: string): Promise<void> {
  const u = new URL(url);
  const name = decodeURIComponent(u.pathname.slice(1));
  u.pathname = '/postgres';
  const admin = postgres(u.toString(), { max: 1, onnotice: () => {} });
  try {
    const [row] = await admin`select 1 as ok from pg_database where datname = ${name}`;
    if (!row) await admin.unsafe(`create database "${name.replaceAll('"', '""')}"`).catch((e: { code?: string }) => {
      if (e.code !== '42P04') throw e; // created meanwhile by a concurrent run
    });
  } finally {
    await admin.end();
  }
}

export async function migrateLiteLLM(dir: string, url: string): Promise<{ applied: string[]; total: number }> {
  await ensureDatabase(url);
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  const applied: string[] = [];
  const names = migrationNames(dir);
  try {
    await sql`select pg_advisory_lock(72707369)`;
    await sql.unsafe(PRISMA_MIGRATIONS);
    const done = new Set((await sql`select migration_name from "_prisma_migrations" where finished_at is not null and rolled_back_at is null`).map((r) => r.migration_name as string));
    for (const name of names) {
      if (done.has(name)) continue;
      const text = readFileSync(join(dir, name, 'migration.sql'), 'utf8');
      const checksum = createHash('sha256').update(text).digest('hex');
      // One simple-protocol script, as Prisma sends it: some files hold a lone
      // CREATE INDEX CONCURRENTLY, which no explicit transaction may wrap.
      await sql.unsafe(text);
      await sql`insert into "_prisma_migrations" (id, checksum, finished_at, migration_name, applied_steps_count)
                values (${randomUUID()}, ${checksum}, now(), ${name}, 1)`;
      applied.push(name);
    }
  } finally {
    await sql.end();
  }
  return { applied, total: names.length };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [dir, url] = process.argv.slice(2);
  if (!dir || !url) {
    process.stderr.write('usage: migrate.ts <migrations dir> <database url>\n');
    process.exit(2);
  }
  const { applied, total } = await migrateLiteLLM(dir, url);
  process.stdout.write(`[litellm-db] ${applied.length} migration(s) applied, ${total} in all\n`);
}
