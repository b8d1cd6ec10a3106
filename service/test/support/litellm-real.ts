/**
 * The REAL pinned LiteLLM proxy with its own PostgreSQL database, for tests: `litellm/dev/run.sh`
 * (what `npm run litellm` runs) on a fresh database named litellm_test_<random> on the test
 * PostgreSQL server, a free port and a private spool. Needs TEST_DATABASE_URL and the LiteLLM venv
 * (litellm/setup-venv.sh; run.sh installs the rest itself on first use).
 *
 * PROXY_BATCH_WRITE_AT=1: LiteLLM writes key spend and spend logs to its database in batches every
 * PROXY_BATCH_WRITE_AT + random 0–5 s (litellm/constants.py; proxy/proxy_server.py, the batch
 * writing job, default 10 s) while enforcing from an in-memory counter; tests shorten the interval
 * so /key/info settles within ~6 s, and poll for it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import { testDatabaseUrl, withDatabase } from './env.js';
import { freePort, killGroup, ROOT, run, waitFor } from './processes.js';
import { litellmVenv, needs } from './requires.js';

/** What a test group that runs the real proxy needs (for describeWith). */
export const needsRealLiteLLM = () => [needs.postgres(), needs.litellm()];

export interface RealLiteLLM {
  url: string;
  masterKey: string;
  databaseUrl: string;
  /** run.sh's pid, leader of the process group (LiteLLM, its engine shim) that stop() ends. */
  pid: number;
  output(): string;
  stop(): Promise<void>;
}

export interface RealLiteLLMOptions {
  masterKey: string;
  webhook?: { url: string; secret: string };
  /** Default: a free port. */
  port?: number;
  /** The PostgreSQL server to create LiteLLM's database on; default TEST_DATABASE_URL. */
  serverUrl?: string;
  env?: Record<string, string>;
}

export async function startRealLiteLLM(opts: RealLiteLLMOptions): Promise<RealLiteLLM> {
  const server = opts.serverUrl ?? testDatabaseUrl();
  if (!server) throw new Error('startRealLiteLLM: TEST_DATABASE_URL is not set');
  const name = `litellm_test_${randomBytes(5).toString('hex')}`;
  const databaseUrl = withDatabase(server, name);
  const port = opts.port ?? (await freePort());
  const spool = mkdtempSync(join(tmpdir(), 'litellm-spool-'));
  const { proc, output } = run('bash', [join(ROOT, 'litellm/dev/run.sh')], {
    LITELLM_DATABASE_URL: databaseUrl,
    LITELLM_PORT: String(port),
    LITELLM_MASTER_KEY: opts.masterKey,
    LITELLM_VENV: litellmVenv(),
    COMPANION_WEBHOOK_URL: opts.webhook?.url ?? 'http://127.0.0.1:9/unused',
    WEBHOOK_SECRET: opts.webhook?.secret ?? '',
    COMPANION_SPOOL_PATH: join(spool, 'spool.sqlite3'),
    COMPANION_FLUSH_INTERVAL: '0.2',
    PROXY_BATCH_WRITE_AT: '1',
    ...opts.env,
  });
  const url = `http://127.0.0.1:${port}`;
  const drop = async () => {
    const admin = postgres(server, { max: 1, onnotice: () => {} });
    await admin.unsafe(`drop database if exists ${name} with (force)`).catch(() => {});
    await admin.end();
    rmSync(spool, { recursive: true, force: true });
  };
  try {
    await waitFor(`${url}/health/liveliness`, 180_000, proc, output);
  } catch (e) {
    await killGroup(proc);
    await drop();
    throw e;
  }
  return {
    url,
    masterKey: opts.masterKey,
    databaseUrl,
    pid: proc.pid!,
    output,
    async stop() {
      await killGroup(proc);
      await drop();
    },
  };
}
