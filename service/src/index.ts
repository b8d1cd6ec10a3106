import { serve } from '@hono/node-server';
import { createApp } from './app.js';
import { ConfigError, loadConfig } from './config.js';
import { createDeps } from './deps.js';
import { bootstrap } from './domain/auth/bootstrap.js';
import { startJobs } from './jobs/index.js';

/**
 * postgres.js can throw from a timer callback when a connection's socket is already gone
 * (PostgreSQL restarting: `socket.write` on null). That error is the driver's own bookkeeping, the
 * pool reconnects and the request gets its own error, so it must not kill the process. Anything
 * else uncaught still ends it (after logging).
 */
function isDriverSocketRace(err: unknown): boolean {
  return err instanceof TypeError && /reading 'write'/.test(err.message) && /postgres[\\/]src[\\/]connection\.js/.test(err.stack ?? '');
}

async function main() {
  let config;
  try {
    config = loadConfig();
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`${e.message}\n`);
      process.exit(1);
    }
    throw e;
  }
  const deps = await createDeps(config);
  process.on('uncaughtException', (err) => {
    if (isDriverSocketRace(err)) {
      deps.log.warn({ err: err.message }, 'database connection dropped while writing; reconnecting');
      return;
    }
    deps.log.fatal({ err }, 'uncaught exception');
    process.exit(1);
  });
  const { generatedPassword } = await bootstrap(deps);
  if (generatedPassword) {
    // Printed once, to the terminal only (never to the JSON log).
    process.stderr.write(
      `\n  First start: admin account created.\n  email:    ${config.ADMIN_EMAIL}\n  password: ${generatedPassword}\n  (shown once; set ADMIN_PASSWORD to choose it)\n\n`,
    );
  }
  if (!config.WEBHOOK_SECRET) deps.log.warn('WEBHOOK_SECRET is not set: POST /webhooks/litellm answers 503');
  if (!deps.litellm) deps.log.warn('LITELLM_URL is not set: keys are not provisioned and budgets are not pushed');
  if (!config.PUBLIC_URL && config.NODE_ENV === 'production') {
    deps.log.error('PUBLIC_URL is not set: emailed sign-in links and Stripe checkouts answer 503 until it is (NODE_ENV=production never builds links from request headers)');
  }

  const jobs = config.JOBS_ENABLED ? startJobs(deps) : undefined;
  const app = createApp(deps);
  const server = serve({ fetch: app.fetch, port: config.PORT, hostname: config.HOST }, (info) => {
    deps.log.info({ port: info.port, database: deps.dbKind }, `listening on http://localhost:${info.port}`);
  });

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    deps.log.info({ signal }, 'shutting down');
    server.close();
    await jobs?.stop();
    await deps.close();
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
}

main().catch((err) => {
  process.stderr.write(`fatal: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
