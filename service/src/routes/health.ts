import { Hono } from 'hono';
import { sql } from 'drizzle-orm';
import { one } from '../db/client.js';
import type { AppEnv } from '../http/env.js';
import { safeEqual } from '../lib/crypto.js';
import { ApiError } from '../lib/errors.js';
import { periodOf, periodStartInstant } from '../lib/period.js';
import { unpricedDetail, unpricedModels } from '../domain/usage/unpriced.js';

const withTimeout = <T>(p: Promise<T>, ms: number) =>
  Promise.race([p, new Promise<never>((_, reject) => setTimeout(() => reject(new Error('timeout')), ms).unref())]);

export const healthRoutes = new Hono<AppEnv>()
  .get('/health', (c) => c.json({ status: 'ok' }))
  .get('/metrics', async (c) => {
    const { metrics, config } = c.get('deps');
    if (config.METRICS_TOKEN) {
      const sent = /^Bearer\s+(.+)$/i.exec(c.req.header('authorization') ?? '')?.[1] ?? '';
      if (!safeEqual(sent, config.METRICS_TOKEN)) throw new ApiError('unauthorized', 'metrics need the METRICS_TOKEN bearer');
    }
    return c.body(await metrics.registry.metrics(), 200, { 'Content-Type': metrics.registry.contentType });
  })
  .get('/ready', async (c) => {
    const deps = c.get('deps');
    const checks: Record<string, { ok: boolean; detail?: string; [k: string]: unknown }> = {};
    try {
      const lag = await withTimeout(
        one<{ pending: string; oldest: number | null }>(
          deps.db,
          sql`select count(*) as pending, extract(epoch from (now() - min(created_at)))::float8 as oldest
              from outbox where status = 'pending'`,
        ),
        2000,
      );
      checks.database = { ok: true, kind: deps.dbKind };
      checks.outbox = { ok: true, pending: Number(lag?.pending ?? 0), oldestSeconds: lag?.oldest === null || lag?.oldest === undefined ? 0 : Math.round(Number(lag.oldest)) };
    } catch (e) {
      checks.database = { ok: false, detail: (e as Error).message };
    }
    if (checks.database.ok) {
      // Informational (never makes us unready): models LiteLLM did not price this period.
      try {
        const tz = deps.config.TIMEZONE;
        const unpriced = await withTimeout(unpricedModels(deps.db, periodStartInstant(periodOf(deps.clock.now(), tz), tz)), 2000);
        const detail = unpricedDetail(unpriced);
        checks.pricing = { ok: true, unpricedModels: unpriced.length, ...(detail ? { detail } : {}) };
      } catch (e) {
        checks.pricing = { ok: true, detail: `unknown: ${(e as Error).message}` };
      }
    }
    if (deps.redis) {
      try {
        await withTimeout(deps.redis.ping(), 1000);
        checks.redis = { ok: true };
      } catch (e) {
        checks.redis = { ok: false, detail: `degraded: ${(e as Error).message}` };
      }
    }
    if (deps.litellm) {
      const up = await withTimeout(deps.litellm.health(), 2000).catch(() => false);
      checks.litellm = { ok: up, configured: true, ...(up ? {} : { detail: 'unreachable; budget pushes wait in the outbox' }) };
    } else {
      checks.litellm = { ok: true, configured: false, detail: 'not configured: keys stay pending, budgets are not pushed' };
    }
    // Only the database is required to serve; Redis and LiteLLM outages degrade, they don't stop us.
    const ready = checks.database?.ok === true;
    return c.json({ status: ready ? 'ready' : 'unavailable', checks }, ready ? 200 : 503);
  });
