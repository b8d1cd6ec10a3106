import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from './support/processes.js';

function composeCommand(): string[] | null {
  if (spawnSync('docker', ['compose', 'version']).status === 0) return ['docker', 'compose'];
  if (spawnSync('docker-compose', ['version']).status === 0) return ['docker-compose'];
  return null;
}

describe.runIf(composeCommand())('compose.yaml', () => {
  it('passes `docker compose config` with the example environment', () => {
    const dir = mkdtempSync(join(tmpdir(), 'compose-'));
    for (const f of ['compose.yaml', 'Dockerfile', 'deploy', 'litellm']) cpSync(join(ROOT, f), join(dir, f), { recursive: true });
    copyFileSync(join(ROOT, '.env.example'), join(dir, '.env'));
    const [cmd, ...args] = composeCommand()!;
    const res = spawnSync(cmd!, [...args, 'config', '-q'], {
      cwd: dir,
      env: { ...process.env, POSTGRES_PASSWORD: 'x', LITELLM_MASTER_KEY: 'sk-x', WEBHOOK_SECRET: 'a-long-webhook-secret' },
      encoding: 'utf8',
    });
    expect(res.stderr).toBe('');
    expect(res.status).toBe(0);
  });
});
