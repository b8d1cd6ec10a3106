import type { Redis } from 'ioredis';
import type { Config } from './config.js';
import { openPglite, openPostgres, type Database, type Db } from './db/client.js';
import { type Clock, systemClock } from './lib/clock.js';
import { createLogger, type Logger } from './lib/logger.js';
import { memoryRateLimiter, redisRateLimiter, type RateLimiter } from './lib/rate-limit.js';
import { createLiteLLMClient, type LiteLLMClient } from './litellm/client.js';
import { resendMailer, type Mailer } from './lib/mailer.js';
import { createMetrics, type Metrics } from './lib/metrics.js';
import { createStripe, type Stripe } from './lib/stripe.js';
import { rows } from './db/client.js';
import { sql } from 'drizzle-orm';

export interface Deps {
  config: Config;
  db: Db;
  dbKind: Database['kind'];
  redis?: Redis;
  rateLimiter: RateLimiter;
  /** Absent when LITELLM_URL is not configured: keys stay `pending`, nothing is pushed. */
  litellm?: LiteLLMClient;
  /** Absent without RESEND_API_KEY: emails are only written to the mail log. */
  mailer?: Mailer;
  /** Absent without STRIPE_SECRET_KEY and STRIPE_WEBHOOK_SECRET: buying is off (admins top up by hand). */
  stripe?: Stripe;
  log: Logger;
  clock: Clock;
  metrics: Metrics;
  /** Wake-ups for background workers (set by startJobs; no-ops otherwise). */
  wake: { outbox(): void };
  close(): Promise<void>;
}

export interface DepsOverrides {
  database?: Database;
  log?: Logger;
  clock?: Clock;
  litellm?: LiteLLMClient;
  mailer?: Mailer;
}

export async function createDeps(config: Config, overrides: DepsOverrides = {}): Promise<Deps> {
  const log = overrides.log ?? createLogger(config.LOG_LEVEL);
  let database = overrides.database;
  if (!database && config.DATABASE_URL) {
    const pg = await openPostgres(config.DATABASE_URL, config.DATABASE_POOL_SIZE, config.DATABASE_UNIX_SOCKET);
    log.info({ transport: pg.transport.kind, detail: pg.transport.detail }, 'postgres connection');
    database = pg;
  }
  database ??= await openPglite(`${config.DATA_DIR}/pglite`);

  let redis: Redis | undefined;
  if (config.REDIS_URL) {
    const { Redis } = await import('ioredis'); // only when configured: a large module graph
    redis = new Redis(config.REDIS_URL, { maxRetriesPerRequest: 1, enableOfflineQueue: false, lazyConnect: true });
    redis.on('error', (err) => log.warn({ err: err.message }, 'redis error'));
    await redis.connect().catch((err) => log.warn({ err: err.message }, 'redis unavailable at start; degraded'));
  }

  const litellm =
    overrides.litellm ??
    (config.LITELLM_URL && config.LITELLM_MASTER_KEY
      ? createLiteLLMClient({
          baseUrl: config.LITELLM_URL,
          masterKey: config.LITELLM_MASTER_KEY,
          timeoutMs: config.LITELLM_TIMEOUT_MS,
        })
      : undefined);

  return {
    config,
    db: database.db,
    dbKind: database.kind,
    redis,
    rateLimiter: redis ? redisRateLimiter(redis) : memoryRateLimiter(),
    litellm,
    mailer: overrides.mailer ?? (config.RESEND_API_KEY ? await resendMailer(config.RESEND_API_KEY, config.RESEND_BASE_URL) : undefined),
    stripe: await createStripe(config),
    log,
    clock: overrides.clock ?? systemClock,
    wake: { outbox: () => {} },
    metrics: createMetrics(async (m) => {
      const [o] = await rows<{ n: string; age: number | null }>(
        database.db,
        sql`select count(*) as n, extract(epoch from now() - min(created_at))::float8 as age from outbox where status = 'pending'`,
      );
      m.outboxDepth.set(Number(o?.n ?? 0));
      m.outboxOldestSeconds.set(Number(o?.age ?? 0));
    }),
    async close() {
      redis?.disconnect();
      await database.close();
    },
  };
}
