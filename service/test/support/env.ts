/** The migrated template database of this run (set by global-setup.ts). */
export function templateDb(): string {
  const name = process.env.COMPANION_TEST_TEMPLATE;
  if (!name) throw new Error('no template database: run the tests through vitest (global-setup.ts)');
  return name;
}

/** Real PostgreSQL for tests when set (CI sets it); otherwise embedded PGlite. */
export function testDatabaseUrl(): string | undefined {
  const v = process.env.TEST_DATABASE_URL?.trim();
  return v ? v : undefined;
}

export function testRedisUrl(): string | undefined {
  const v = process.env.TEST_REDIS_URL?.trim();
  return v ? v : undefined;
}

export function withDatabase(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}
