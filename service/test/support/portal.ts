import { randomBytes } from 'node:crypto';
import type { TestContext, TestResponse } from './context.js';

/** A distinct client address per call site (portal sign-in is rate limited per address; tests set TRUST_PROXY). */
export const someIp = () => `10.${randomBytes(1)[0]}.${randomBytes(1)[0]}.${randomBytes(1)[0]}`;

export interface PortalClient {
  cookie: string;
  csrf: string;
  call(method: string, path: string, body?: unknown, opts?: { csrf?: string | null }): Promise<TestResponse>;
}

/** Cookie header from a response's Set-Cookie lines. */
export const cookieHeader = (res: Response) =>
  res.headers
    .getSetCookie()
    .map((c) => c.split(';')[0])
    .join('; ');

export function portalClient(ctx: TestContext, res: Response, csrf: string): PortalClient {
  const cookie = cookieHeader(res);
  return {
    cookie,
    csrf,
    call(method, path, body, o = {}) {
      const headers: Record<string, string> = { cookie, 'x-forwarded-for': someIp() };
      const token = o.csrf === undefined ? csrf : o.csrf;
      if (token) headers['x-csrf-token'] = token;
      if (body !== undefined) headers['content-type'] = 'application/json';
      return Promise.resolve(ctx.app.request(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) }));
    },
  };
}

export async function portalPost(ctx: TestContext, path: string, body: unknown, ip = someIp()): Promise<TestResponse> {
  return ctx.app.request(path, { method: 'POST', headers: { 'content-type': 'application/json', 'x-forwarded-for': ip }, body: JSON.stringify(body) });
}

/** Sign in to the portal with a LiteLLM key. */
export async function portalLoginWithKey(ctx: TestContext, key: string): Promise<PortalClient> {
  const res = await portalPost(ctx, '/api/portal/login/key', { key });
  if (res.status !== 200) throw new Error(`portal key login: ${res.status} ${await res.text()}`);
  const { csrfToken } = (await res.json()) as { csrfToken: string };
  return portalClient(ctx, res, csrfToken);
}

/** Poll `probe` until it returns something other than undefined (background work, outbox). */
export async function eventually<T>(probe: () => Promise<T | undefined>, timeoutMs = 5000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error('eventually: timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}
