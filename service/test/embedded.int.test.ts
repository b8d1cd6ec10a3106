import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { createDeps } from '../src/deps.js';
import { bootstrap } from '../src/domain/auth/bootstrap.js';
import { createLogger } from '../src/lib/logger.js';
import { WEBHOOK_SECRET } from './support/context.js';
import { payload } from './support/factories.js';
import { sha256Hex } from '../src/lib/crypto.js';
import { keys } from '../src/db/schema/index.js';
import { eq } from 'drizzle-orm';

/**
 * The default first run: no DATABASE_URL → embedded PGlite under DATA_DIR, migrated on start,
 * persisted across restarts. Always runs on PGlite, whatever TEST_DATABASE_URL says.
 */
describe('embedded database (PGlite under DATA_DIR)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'companion-embedded-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  async function start() {
    const config = loadConfig({ DATA_DIR: dir, LOG_LEVEL: 'silent', WEBHOOK_SECRET, ADMIN_PASSWORD: 'correct horse battery staple', DASHBOARD_DIR: '/nonexistent' });
    expect(config.DATABASE_URL).toBeUndefined();
    const deps = await createDeps(config, { log: createLogger('silent') });
    const boot = await bootstrap(deps);
    return { deps, app: createApp(deps), boot };
  }

  it('migrates, bootstraps, books usage and keeps it across a restart', { timeout: 120_000 }, async () => {
    const first = await start();
    expect(first.deps.dbKind).toBe('pglite');
    const login = await first.app.request('/api/auth/login', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'admin@example.com', password: 'correct horse battery staple' }),
    });
    expect(login.status).toBe(200);
    const cookies = login.headers.getSetCookie().map((c) => c.split(';')[0]);
    const csrf = cookies.find((c) => c!.startsWith('tcc_csrf='))!.split('=')[1]!;
    const created = await first.app.request('/api/users', {
      method: 'POST',
      headers: { 'content-type': 'application/json', cookie: cookies.join('; '), 'x-csrf-token': csrf },
      body: JSON.stringify({ email: 'embedded@example.com', name: 'Embedded' }),
    });
    expect(created.status).toBe(201);
    const user = (await created.json()) as { id: string };
    const hash = sha256Hex('sk-embedded');
    await first.deps.db.update(keys).set({ tokenHash: hash, status: 'active' }).where(eq(keys.userId, user.id));
    const booked = await first.app.request('/webhooks/litellm', {
      method: 'POST',
      headers: { authorization: `Bearer ${WEBHOOK_SECRET}` },
      body: JSON.stringify([payload(hash, 0.000376)]),
    });
    expect(await booked.json()).toEqual({ accepted: 1, duplicate: 0, unattributed: 0, rejected: 0 });
    await first.deps.close();

    const second = await start();
    expect(second.boot.generatedPassword).toBeUndefined(); // the admin already exists
    const res = await second.app.request(`/api/users/${user.id}`, { headers: { cookie: cookies.join('; ') } });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { balance: unknown }).balance).toMatchObject({ credits: 999_000, usedThisPeriod: 1000 });
    await second.deps.close();
  });
});
