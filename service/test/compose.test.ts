import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { ROOT } from './support/processes.js';
import { composeCommand, describeWith, needs } from './support/requires.js';

describeWith('compose.yaml', [needs.compose()], () => {
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
