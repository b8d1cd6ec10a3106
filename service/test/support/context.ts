import { randomBytes } from 'node:crypto';
import { createApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { createDeps, type Deps } from '../../src/deps.js';
import { createAdmin } from '../../src/domain/auth/admins.js';
import { bootstrap } from '../../src/domain/auth/bootstrap.js';
import { createApiToken } from '../../src/domain/auth/tokens.js';
import { SYSTEM_ACTOR } from '../../src/domain/actor.js';
import type { Clock } from '../../src/lib/clock.js';
import { createLogger, type Logger } from '../../src/lib/logger.js';
import type { LiteLLMClient } from '../../src/litellm/client.js';
import { createTestDatabase, type TestDatabase } from './db.js';

export const WEBHOOK_SECRET = 'whsec_test_0123456789abcdef';

/** A Response whose json() is untyped, for terse assertions in tests. */
export type TestResponse = Omit<Response, 'json'> & { json(): Promise<any> };

export interface TestContext {
  deps: Deps;
  database: TestDatabase;
  app: ReturnType<typeof createApp>;
  adminToken: string;
  viewerToken: string;
  /** app.request with JSON body and bearer auth (admin by default). */
  api(method: string, path: string, body?: unknown, opts?: { token?: string | null; headers?: Record<string, string> }): Promise<TestResponse>;
  webhook(body: unknown, opts?: { secret?: string; raw?: string; headers?: Record<string, string> }): Promise<TestResponse>;
  close(): Promise<void>;
}

export async function createTestContext(
  opts: { env?: Record<string, string>; clock?: Clock; litellm?: LiteLLMClient; poolSize?: number; log?: Logger } = {},
): Promise<TestContext> {
  const database = await createTestDatabase(opts.poolSize);
  const config = loadConfig({
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    WEBHOOK_SECRET,
    ADMIN_EMAIL: `admin-${randomBytes(3).toString('hex')}@example.com`,
    ADMIN_PASSWORD: 'correct horse battery staple',
    DASHBOARD_DIR: '/nonexistent',
    ...opts.env,
  });
  const deps = await createDeps(config, { database, log: opts.log ?? createLogger('silent'), clock: opts.clock, litellm: opts.litellm });
  await bootstrap(deps);
  const adminToken = (await deps.db.transaction((tx) => createApiToken(tx, SYSTEM_ACTOR, {}, { name: 'test-admin', role: 'admin' }))).token;
  const viewerToken = (await deps.db.transaction((tx) => createApiToken(tx, SYSTEM_ACTOR, {}, { name: 'test-viewer', role: 'viewer' }))).token;
  const app = createApp(deps);

  const api: TestContext['api'] = (method, path, body, o = {}) => {
    const token = o.token === undefined ? adminToken : o.token;
    const headers: Record<string, string> = { ...(o.headers ?? {}) };
    if (token) headers.authorization = `Bearer ${token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    return Promise.resolve(app.request(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) }));
  };
  const webhook: TestContext['webhook'] = (body, o = {}) =>
    Promise.resolve(app.request('/webhooks/litellm', {
      method: 'POST',
      headers: { authorization: `Bearer ${o.secret ?? WEBHOOK_SECRET}`, 'content-type': 'application/json', ...(o.headers ?? {}) },
      body: o.raw ?? JSON.stringify(body),
    }));

  return {
    deps,
    database,
    app,
    adminToken,
    viewerToken,
    api,
    webhook,
    close: () => deps.close(),
  };
}

export { createAdmin };
