import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'vitest';
import { chromiumSource } from './chromium.js';
import { testDatabaseUrl, testRedisUrl } from './env.js';
import { ROOT } from './processes.js';

/**
 * The one place that decides whether a test group that needs a real server or tool runs.
 *
 * `describeWith(name, [needs.postgres(), ...], body)`: everything there → `describe(name, body)`.
 * Something missing → the group is skipped with ONE printed line naming what it needs and how to
 * provide it (`body` is not even collected, so it cannot open connections to absent servers);
 * under `CI=true` the group fails instead, so a green CI proves the real PostgreSQL / Redis /
 * LiteLLM / schemathesis / Chromium tests ran.
 */
export interface Requirement {
  what: string;
  available: boolean;
  /** How to provide it, for the printed reason. */
  howTo: string;
}

const isCI = () => /^(1|true|yes)$/i.test(process.env.CI ?? '');

export const litellmVenv = () => process.env.LITELLM_VENV?.trim() || join(ROOT, '.venv-litellm');
export const toolsVenv = () => process.env.TOOLS_VENV?.trim() || join(ROOT, '.venv-tools');

/** The newest PostgreSQL server binaries (initdb, pg_ctl) of a Debian install, for private clusters. */
export const postgresBin = (): string | undefined => {
  const base = '/usr/lib/postgresql';
  if (!existsSync(base)) return undefined;
  const version = readdirSync(base).sort((a, b) => Number(a) - Number(b)).at(-1);
  const bin = version && join(base, version, 'bin');
  return bin && existsSync(join(bin, 'pg_ctl')) && existsSync(join(bin, 'initdb')) ? bin : undefined;
};
export const redisServerBin = () => ['/usr/bin/redis-server', '/usr/local/bin/redis-server'].find((p) => existsSync(p));

let compose: string[] | null | undefined;
export function composeCommand(): string[] | null {
  if (compose === undefined) {
    if (spawnSync('docker', ['compose', 'version']).status === 0) compose = ['docker', 'compose'];
    else if (spawnSync('docker-compose', ['version']).status === 0) compose = ['docker-compose'];
    else compose = null;
  }
  return compose;
}

export const needs = {
  postgres: (): Requirement => ({ what: 'PostgreSQL', available: testDatabaseUrl() !== undefined, howTo: 'set TEST_DATABASE_URL=postgres://…' }),
  redis: (): Requirement => ({ what: 'Redis', available: testRedisUrl() !== undefined, howTo: 'set TEST_REDIS_URL=redis://…' }),
  litellm: (): Requirement => ({
    what: 'the pinned LiteLLM',
    available: existsSync(join(litellmVenv(), 'bin', 'litellm')),
    howTo: 'run litellm/setup-venv.sh, or set LITELLM_VENV',
  }),
  schemathesis: (): Requirement => ({
    what: 'schemathesis',
    available: existsSync(join(toolsVenv(), 'bin', 'schemathesis')),
    howTo: 'run tools/setup-schemathesis.sh, or set TOOLS_VENV',
  }),
  postgresServer: (): Requirement => ({ what: 'PostgreSQL server binaries', available: postgresBin() !== undefined, howTo: 'apt-get install postgresql' }),
  redisServer: (): Requirement => ({ what: 'redis-server', available: redisServerBin() !== undefined, howTo: 'apt-get install redis-server' }),
  compose: (): Requirement => ({ what: 'docker compose', available: composeCommand() !== null, howTo: 'apt-get install docker-compose' }),
  chromium: (): Requirement => ({
    what: 'Chromium',
    available: chromiumSource() !== undefined,
    howTo: 'apt-get install chromium, or npm install (devDependency @sparticuz/chromium)',
  }),
};

export function describeWith(name: string, requirements: Requirement[], body: () => void): void {
  const missing = requirements.filter((r) => !r.available);
  if (missing.length === 0) {
    describe(name, body);
    return;
  }
  const reason = missing.map((r) => `${r.what} (${r.howTo})`).join(', ');
  if (isCI()) {
    describe(name, () => {
      it('has what it needs', () => {
        throw new Error(`CI=true and "${name}" cannot run: it needs ${reason}`);
      });
    });
    return;
  }
  process.stdout.write(`skipped: ${name}: needs ${reason}\n`);
  describe.skip(name, () => {
    it(`needs ${reason}`, () => {});
  });
}
