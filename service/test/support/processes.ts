import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../..', import.meta.url));

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export async function waitFor(url: string, timeoutMs: number, proc?: ChildProcess, output?: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (proc && proc.exitCode !== null) throw new Error(`process exited (${proc.exitCode}) before ${url} was up:\n${output?.() ?? ''}`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
      if (res.ok) return;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${url} not up after ${timeoutMs} ms:\n${output?.() ?? ''}`);
}

export interface Proc {
  url: string;
  proc: ChildProcess;
  output(): string;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

/** Run a command in its own process group, keeping the last 20 kB of its output for errors. */
export function run(cmd: string, args: string[], env: Record<string, string>): { proc: ChildProcess; output(): string } {
  let out = '';
  const proc = spawn(cmd, args, { cwd: ROOT, env: { ...process.env, ...env }, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  const keep = (d: Buffer) => {
    out = (out + d.toString()).slice(-20_000);
  };
  proc.stdout!.on('data', keep);
  proc.stderr!.on('data', keep);
  return { proc, output: () => out };
}

export async function killGroup(proc: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (proc.exitCode !== null || proc.pid === undefined) return;
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  try {
    process.kill(-proc.pid, signal);
  } catch {
    return;
  }
  await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
}

/** The companion service as a real process (`node --import tsx service/src/index.ts`). */
export async function startService(env: Record<string, string>, port?: number): Promise<Proc> {
  const p = port ?? (await freePort());
  const { proc, output } = run(process.execPath, ['--import', 'tsx', 'service/src/index.ts'], {
    PORT: String(p),
    HOST: '127.0.0.1',
    LOG_LEVEL: 'warn',
    DASHBOARD_DIR: '/nonexistent',
    ...env,
  });
  const url = `http://127.0.0.1:${p}`;
  await waitFor(`${url}/health`, 60_000, proc, output);
  return { url, proc, output, kill: (s) => killGroup(proc, s) };
}
