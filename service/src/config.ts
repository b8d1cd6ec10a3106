import { z } from 'zod';
import { passwordProblem } from './domain/auth/password-policy.js';
import { parseFactor } from './domain/money.js';

const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v.trim()));

const positiveInt = (fallback: number) =>
  z.coerce.number().int().positive().default(fallback);

const retentionDays = (fallback: number) => z.coerce.number().int().min(0).max(36_500).default(fallback);

const configSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  PORT: z.coerce.number().int().min(0).max(65535).default(8787),
  HOST: z.string().default('0.0.0.0'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  DATABASE_URL: optionalString.refine(
    (v) => v === undefined || /^postgres(ql)?:\/\//.test(v),
    'must be a postgres:// or postgresql:// URL (leave unset for the embedded database)',
  ),
  DATA_DIR: z.string().default('./data'),
  DATABASE_POOL_SIZE: positiveInt(10),
  /** `auto`: a DATABASE_URL on this machine goes through PostgreSQL's Unix socket when it accepts us (db/transport.ts). */
  DATABASE_UNIX_SOCKET: z.enum(['auto', 'off']).default('off'),
  REDIS_URL: optionalString.refine(
    (v) => v === undefined || /^rediss?:\/\//.test(v),
    'must be a redis:// or rediss:// URL (leave unset for in-process)',
  ),
  LITELLM_URL: optionalString.refine(
    (v) => v === undefined || /^https?:\/\//.test(v),
    'must be an http(s) URL',
  ),
  LITELLM_MASTER_KEY: optionalString,
  LITELLM_TIMEOUT_MS: positiveInt(5000),
  WEBHOOK_SECRET: optionalString.refine(
    (v) => v === undefined || v.length >= 16,
    'must be at least 16 characters',
  ),
  WEBHOOK_MAX_BODY_BYTES: positiveInt(10 * 1024 * 1024),
  WEBHOOK_MAX_CONCURRENT: positiveInt(3),
  WEBHOOK_MAX_QUEUED: z.coerce.number().int().min(0).default(16),
  WEBHOOK_MAX_INFLIGHT_BYTES: positiveInt(16 * 1024 * 1024),
  /** Group commit: booking transactions at once per process; batches arriving meanwhile are booked together. */
  WEBHOOK_BOOKING_TRANSACTIONS: positiveInt(2),
  /** Group commit: at most this many events in one group (a batch larger than it is booked alone). */
  WEBHOOK_GROUP_MAX_EVENTS: positiveInt(4096),
  WEBHOOK_SIGNING_SECRET: optionalString.refine((v) => v === undefined || v.length >= 16, 'must be at least 16 characters'),
  RATE_LIMIT_API_PER_MINUTE: positiveInt(600),
  RATE_LIMIT_WEBHOOK_PER_MINUTE: positiveInt(6000),
  /**
   * How many reverse proxies stand in front of the service: `false` (0, none: the socket address is
   * the client), `true` (1), or a number. The client address is then the one the outermost
   * trusted proxy appended to X-Forwarded-For: the N-th entry from the right.
   */
  TRUST_PROXY: z
    .string()
    .default('false')
    .transform((v, ctx) => {
      const t = v.trim().toLowerCase();
      if (t === 'false' || t === '') return 0;
      if (t === 'true') return 1;
      if (/^\d{1,2}$/.test(t)) return Number(t);
      ctx.addIssue({ code: 'custom', message: 'must be true, false or the number of proxies in front of the service (0–99)' });
      return z.NEVER;
    }),
  RESEND_API_KEY: optionalString,
  RESEND_BASE_URL: optionalString,
  MAIL_FROM: z.string().default('Token Credits <credits@example.com>'),
  ADMIN_EMAIL: z.string().email().default('admin@example.com'),
  ADMIN_PASSWORD: optionalString.superRefine((v, ctx) => {
    const problem = v === undefined ? null : passwordProblem(v);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  }),
  CONVERSION_FACTOR: z
    .string()
    .default('0.376')
    .transform((v, ctx) => {
      try {
        return parseFactor(v);
      } catch (e) {
        ctx.addIssue({ code: 'custom', message: (e as Error).message });
        return z.NEVER;
      }
    }),
  TIMEZONE: z
    .string()
    .default('UTC')
    .refine((tz) => {
      try {
        new Intl.DateTimeFormat('en-US', { timeZone: tz });
        return true;
      } catch {
        return false;
      }
    }, 'must be an IANA time zone such as America/Sao_Paulo'),
  /** Minutes after a period starts during which late events of the previous period still draw on its allowance (docs/quotas.md). */
  PERIOD_GRACE_MINUTES: z.coerce.number().int().min(0).max(1440).default(15),
  /** Percentage points under a threshold that usage must fall by before the alert re-arms. */
  ALERT_REARM_MARGIN_PERCENT: z.coerce.number().min(0).max(50).default(1),
  SESSION_TTL_HOURS: positiveInt(12),
  COOKIE_SECURE: z
    .enum(['auto', 'true', 'false'])
    .default('auto'),
  JOBS_ENABLED: z
    .enum(['true', 'false'])
    .default('true')
    .transform((v) => v === 'true'),
  DASHBOARD_DIR: z.string().default('./dashboard/dist'),
  METRICS_TOKEN: optionalString,
  STRIPE_SECRET_KEY: optionalString,
  STRIPE_WEBHOOK_SECRET: optionalString,
  STRIPE_API_BASE: optionalString.refine((v) => v === undefined || /^https?:\/\//.test(v), 'must be an http(s) URL'),
  QUOTA_HELP_TEXT: optionalString.refine((v) => v === undefined || v.length <= 500, 'at most 500 characters'),
  QUOTA_HELP_TEXT_EN: optionalString.refine((v) => v === undefined || v.length <= 500, 'at most 500 characters'),
  // Retention in days (0 keeps forever); docs/operations.md, Retention.
  RETENTION_DEAD_LETTERS_DAYS: retentionDays(90),
  RETENTION_IDEMPOTENCY_DAYS: retentionDays(30),
  RETENTION_OUTBOX_DAYS: retentionDays(7),
  RETENTION_MAIL_LOG_DAYS: retentionDays(180),
  RETENTION_SESSIONS_DAYS: retentionDays(7),
  PUBLIC_URL: optionalString.refine((v) => v === undefined || /^https?:\/\/[^/]+\/?$/.test(v), 'must be an origin such as https://credits.example.com'),
});

export type Config = z.infer<typeof configSchema>;

export class ConfigError extends Error {
  constructor(public readonly issues: string[]) {
    super(`Invalid configuration:\n${issues.map((i) => `  - ${i}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Parse the environment once. Throws ConfigError naming every bad variable. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const parsed = configSchema.safeParse(env);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`),
    );
  }
  const config = parsed.data;
  if (config.LITELLM_URL && !config.LITELLM_MASTER_KEY) {
    throw new ConfigError(['LITELLM_MASTER_KEY: required when LITELLM_URL is set']);
  }
  return config;
}
