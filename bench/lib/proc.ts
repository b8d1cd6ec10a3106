/** Child processes, /proc sampling (RSS, CPU time) and machine facts. Linux only. */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createWriteStream, readdirSync, readFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

export interface Service {
  child: ChildProcess;
  pid: number;
  url: string;
  /** Set if the process ended before stop() was called: that is a failure of the run. */
  died?: string;
  stop(): Promise<void>;
}

/**
 * The service as `npm start` runs it: the esbuild bundle (`npm run build:service`, built here
 * first) under plain node, so the pid we get is the process serving the port.
 */
export async function startService(env: Record<string, string>, logFile: string, extraNodeArgs: string[] = [], opts: { build?: boolean } = {}): Promise<Service> {
  if (opts.build !== false) { // a second replica reuses the bundle just built
    const build = spawnSync('npm', ['run', '--silent', 'build:service'], { stdio: 'inherit' });
    if (build.status !== 0) throw new Error('npm run build:service failed');
  }
  const log = createWriteStream(logFile);
  const child = spawn(process.execPath, [...extraNodeArgs, '--enable-source-maps', 'dist/service/index.js'], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.pipe(log);
  child.stderr!.pipe(log);
  const url = `http://127.0.0.1:${env.PORT}`;
  let exited = false, stopping = false;
  const svc = {} as Service;
  child.once('exit', (code, signal) => {
    exited = true;
    if (!stopping) svc.died = `service exited unexpectedly (code ${code}, signal ${signal}); see ${logFile}`;
  });
  const stop = () =>
    new Promise<void>((resolve) => {
      stopping = true;
      if (exited) return resolve();
      const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
      child.once('exit', () => (clearTimeout(t), resolve()));
      child.kill('SIGTERM');
    });
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (exited) throw new Error(`service exited during start (see ${logFile})`);
    try {
      const r = await fetch(`${url}/health`);
      if (r.ok) return Object.assign(svc, { child, pid: child.pid!, url, stop });
    } catch { /* not yet listening */ }
    await new Promise((r) => setTimeout(r, 200));
  }
  await stop();
  throw new Error(`service did not answer /health within 60 s (see ${logFile})`);
}

/** VmRSS of a process in bytes (0 if gone). */
export function rssBytes(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

export class RssSampler {
  samples: { t: number; rss: number; phase: string }[] = [];
  phase = 'setup';
  private timer: NodeJS.Timeout;
  constructor(private pid: number, everyMs = 250) {
    this.timer = setInterval(() => this.sample(), everyMs);
    this.timer.unref();
  }
  sample() {
    const rss = rssBytes(this.pid);
    if (rss) this.samples.push({ t: Date.now(), rss, phase: this.phase });
    return rss;
  }
  stop() { clearInterval(this.timer); }
  peak(phase?: string) { return Math.max(0, ...this.samples.filter((s) => !phase || s.phase === phase).map((s) => s.rss)); }
}

const TICK = 100; // USER_HZ on Linux
function cpuOf(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / TICK; // utime + stime (fields 14, 15)
  } catch {
    return 0;
  }
}
function commOf(pid: string): string {
  try { return readFileSync(`/proc/${pid}/comm`, 'utf8').trim(); } catch { return ''; }
}

function pgrpOf(pid: string): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]); // pgrp (field 5)
  } catch {
    return -1;
  }
}

/**
 * CPU seconds used so far by: the service (or the sum of several replicas), all `postgres`
 * processes, the load generator, and this (bench) process. With `foreignPostgres` (backend pids
 * serving other databases, see ForeignBackends), those backends are counted apart
 * (`postgresForeign`: other people's work on a shared server), not as PostgreSQL's. With
 * `groupPid`, also `group`: every live process of that process group (e.g. the real LiteLLM and
 * its engine shim, started detached by service/test/support/litellm-real.ts), 0 without.
 */
export function cpuSnapshot(servicePid: number | number[], loadPid: number | undefined, foreignPostgres?: Set<number>, groupPid?: number) {
  let postgres = 0, postgresForeign = 0, group = 0;
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    if (commOf(p) === 'postgres') {
      if (foreignPostgres?.has(Number(p))) postgresForeign += cpuOf(Number(p));
      else postgres += cpuOf(Number(p));
    } else if (groupPid !== undefined && pgrpOf(p) === groupPid) group += cpuOf(Number(p));
  }
  // Whole machine, from /proc/stat: busy = everything but idle and iowait; steal = taken by the hypervisor.
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const total = f.reduce((a, b) => a + b, 0) / TICK;
  const idle = ((f[3] ?? 0) + (f[4] ?? 0)) / TICK;
  const service = (Array.isArray(servicePid) ? servicePid : [servicePid]).reduce((s, p) => s + cpuOf(p), 0);
  return { service, postgres, postgresForeign, load: loadPid ? cpuOf(loadPid) : 0, bench: cpuOf(process.pid), group, machineBusy: total - idle, steal: (f[7] ?? 0) / TICK, at: performance.now() };
}

export function machine(pgVersion: string) {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  return {
    nproc: os.availableParallelism(),
    cpuModel: /model name\s*:\s*(.*)/.exec(cpuinfo)?.[1]?.trim() ?? 'unknown',
    totalMemoryMb: Math.round(os.totalmem() / 2 ** 20),
    node: process.version,
    postgres: pgVersion,
    kernel: os.release(),
  };
}

/**
 * Run a scenario's `main` to its end: exit 0 when it passed, 1 when it failed or threw (then the
 * tail of the service log is printed); `cleanup` runs in every case.
 */
export function runScenario(main: () => Promise<boolean>, cleanup: () => Promise<void>, serviceLog: string): void {
  main().then(
    async (ok) => { await cleanup(); process.exit(ok ? 0 : 1); },
    async (e: unknown) => {
      console.error(`bench failed: ${e instanceof Error ? e.stack : String(e)}`);
      try { console.error(`--- tail of ${serviceLog} ---\n${readFileSync(serviceLog, 'utf8').slice(-3000)}`); } catch { /* no log */ }
      await cleanup();
      process.exit(1);
    },
  );
}

/**
 * The backend pids of a PostgreSQL server that serve databases other than `ours` (other sessions'
 * tests on a shared server), refreshed every `everyMs`: their CPU is not the bench's.
 */
export class ForeignBackends {
  pids = new Set<number>();
  private timer: NodeJS.Timeout;
  /** `query` answers the pids (e.g. `select pid from pg_stat_activity where datname <> ours`). */
  constructor(query: () => Promise<number[]>, everyMs = 200) {
    const refresh = async () => {
      this.pids = new Set(await query().catch(() => [...this.pids]));
    };
    void refresh();
    this.timer = setInterval(() => void refresh(), everyMs);
    this.timer.unref();
  }
  stop() { clearInterval(this.timer); }
}
