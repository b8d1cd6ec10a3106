import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../src/lib/logger.js';
import { drainOutbox } from '../src/jobs/outbox.js';
import { WEBHOOK_SECRET } from './support/context.js';
import { uniq } from './support/factories.js';
import { MASTER_KEY, startStack, type Stack } from './support/stack.js';

const lines: string[] = [];
const sink = new Writable({
  write(chunk, _enc, done) {
    lines.push(chunk.toString());
    done();
  },
});
let s: Stack;
beforeAll(async () => {
  s = await startStack({ log: createLogger('debug', sink) });
});
afterAll(() => s.close());

describe('logs', () => {
  it('are JSON lines with request ids and never contain a secret or a plaintext key', async () => {
    const secrets: string[] = [MASTER_KEY, WEBHOOK_SECRET, 'correct horse battery staple', s.ctx.adminToken, s.ctx.viewerToken];
    // a login (password + session token), a person (plaintext key), failures that log errors
    const login = await s.ctx.app.request('/api/auth/login', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: s.ctx.deps.config.ADMIN_EMAIL, password: 'correct horse battery staple' }),
    });
    secrets.push(...login.headers.getSetCookie().map((c) => c.split(';')[0]!.split('=')[1]!));
    await s.ctx.app.request('/api/auth/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: 'x@example.com', password: 'wrong password here' }) });
    const u = await (await s.ctx.api('POST', '/api/users', { email: `log-${uniq()}@example.com`, name: 'L' })).json();
    secrets.push(u.key.plaintext);
    await s.chat(u.key.plaintext);
    s.fake.faults.failNext(2, 500);
    await s.ctx.api('POST', `/api/users/${u.id}/credits`, { amount: 5, reason: 'r' }, { headers: { 'idempotency-key': uniq() } });
    await drainOutbox(s.ctx.deps);
    const rotated = await (await s.ctx.api('POST', `/api/users/${u.id}/key/rotate`)).json();
    secrets.push(rotated.plaintext ?? 'none');
    await s.ctx.webhook([], { secret: 'a-wrong-secret-value' });

    expect(lines.length).toBeGreaterThan(5);
    for (const line of lines) {
      const entry = JSON.parse(line);
      if (entry.msg === 'request completed') expect(entry.requestId).toEqual(expect.any(String));
      for (const secret of secrets) expect(line.includes(secret), `${secret.slice(0, 6)}… in ${line}`).toBe(false);
      expect(line).not.toMatch(/sk-[A-Za-z0-9]{20,}/);
    }
    expect(lines.some((l) => l.includes('outbox item failed'))).toBe(true);
  });
});
