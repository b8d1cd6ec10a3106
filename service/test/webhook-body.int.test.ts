import { request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rows } from '../src/db/client.js';
import { createTestContext, WEBHOOK_SECRET, type TestContext } from './support/context.js';
import { attachKey, makeUser, payload } from './support/factories.js';

// The webhook body read straight from Node's request (http/body.ts), through a real server.
const MAX = 256 * 1024;
let ctx: TestContext;
let server: ServerType;
let port: number;

beforeAll(async () => {
  ctx = await createTestContext({ env: { WEBHOOK_MAX_BODY_BYTES: String(MAX) } });
  server = serve({ fetch: ctx.app.fetch, port: 0, hostname: '127.0.0.1' });
  await new Promise<void>((r) => server.once('listening', () => r()));
  port = (server.address() as AddressInfo).port;
});
afterAll(async () => {
  await new Promise<void>((r) => server.close(() => r()));
  await ctx.close();
});

/** POST the body in the given chunks; `chunked`: no Content-Length (Transfer-Encoding: chunked). */
function post(chunks: Buffer[], chunked: boolean): Promise<{ status: number; body: string; closed: boolean }> {
  return new Promise((resolve, reject) => {
    const total = chunks.reduce((a, c) => a + c.length, 0);
    const req = request({
      host: '127.0.0.1',
      port,
      method: 'POST',
      path: '/webhooks/litellm',
      headers: { authorization: `Bearer ${WEBHOOK_SECRET}`, 'content-type': 'application/json', ...(chunked ? {} : { 'content-length': String(total) }) },
    });
    req.on('response', (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode!, body, closed: res.headers.connection === 'close' }));
    });
    req.on('error', reject);
    (async () => {
      for (const c of chunks) {
        if (!req.write(c)) await new Promise((r) => req.once('drain', r));
        await new Promise((r) => setImmediate(r));
      }
      req.end();
    })().catch(() => {}); // the server may stop reading (413): writes after that fail, the answer is what counts
  });
}

const split = (text: string, parts: number) => {
  const b = Buffer.from(text);
  const size = Math.ceil(b.length / parts);
  return Array.from({ length: parts }, (_, i) => b.subarray(i * size, (i + 1) * size)).filter((c) => c.length > 0);
};

const count = async () => Number((await rows<{ n: string }>(ctx.deps.db, sql`select count(*) as n from usage_events`))[0]!.n);

describe('webhook body from the socket', () => {
  it('books a body sent in many chunks, with and without Content-Length (multi-byte characters split across chunks; a chunked body past its first 64 KiB buffer)', async () => {
    const u = await makeUser(ctx);
    const k = await attachKey(ctx, u.id);
    for (const chunked of [false, true]) {
      const events = Array.from({ length: 250 }, () => ({ ...payload(k.hash, 0.000001), model: 'modèle-€-😀' }));
      const text = JSON.stringify(events);
      expect(Buffer.byteLength(text)).toBeGreaterThan(64 * 1024);
      expect(Buffer.byteLength(text)).toBeLessThan(MAX);
      const before = await count();
      const res = await post(split(text, 37), chunked);
      expect(res.status, res.body).toBe(200);
      expect(JSON.parse(res.body)).toMatchObject({ accepted: 250, rejected: 0 });
      expect(await count()).toBe(before + 250);
      const stored = await rows<{ model: string }>(ctx.deps.db, sql`select distinct model from usage_events where id > (select max(id) - 250 from usage_events)`);
      expect(stored.map((s) => s.model)).toEqual(['modèle-€-😀']);
    }
  });

  it('refuses a body over the limit with 413 and books nothing: declared (nothing read) or chunked (cut at the limit)', async () => {
    const u = await makeUser(ctx);
    const k = await attachKey(ctx, u.id);
    const big = JSON.stringify(Array.from({ length: 700 }, () => payload(k.hash, 0.000376)));
    expect(Buffer.byteLength(big)).toBeGreaterThan(MAX);
    const before = await count();
    for (const chunked of [false, true]) {
      const res = await post(split(big, 20), chunked);
      expect(res.status).toBe(413);
      expect(JSON.parse(res.body).error.code).toBe('payload_too_large');
    }
    expect(await count()).toBe(before);
    // the server still answers after cutting a connection
    const ok = await post([Buffer.from(JSON.stringify([payload(k.hash, 0.000376)]))], false);
    expect(ok.status).toBe(200);
  });
});
