/**
 * BENCH_PROFILE=1 helpers:
 * - a sampling "profiler" for PostgreSQL: every 10 ms, what each service connection is doing
 *   (pg_stat_activity: state, wait event, statement) — pg_stat_statements needs a preload + restart;
 * - a summary of the service's V8 CPU profile (--cpu-prof): self time by function and by file.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Sql } from './db.js';

export function samplePgActivity(sql: Sql, dbName: string, everyMs = 10) {
  const counts = new Map<string, number>();
  let samples = 0, running = true;
  const loop = (async () => {
    while (running) {
      const rows = await sql<{ state: string | null; w: string | null; q: string }[]>`
        select state, wait_event_type || ':' || wait_event as w, left(regexp_replace(query, '\\s+', ' ', 'g'), 90) as q
        from pg_stat_activity where datname = ${dbName} and application_name = 'companion'`;
      samples++;
      for (const r of rows) {
        const key = r.state === 'active' ? `active ${r.w ?? 'CPU'} | ${r.q}` : `${r.state}${r.state === 'idle in transaction' ? ' (service CPU / network)' : ''}`;
        counts.set(key, (counts.get(key) ?? 0) + 1);
      }
      await new Promise((r) => setTimeout(r, everyMs));
    }
  })();
  return async () => {
    running = false;
    await loop;
    await sql.end({ timeout: 2 });
    return { samples, top: [...counts].sort((a, b) => b[1] - a[1]).slice(0, 25).map(([k, n]) => ({ what: k, connectionsAvg: +(n / samples).toFixed(2) })) };
  };
}

interface CpuNode { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; hitCount?: number; children?: number[] }
interface CpuProfile { nodes: CpuNode[]; samples: number[]; timeDeltas: number[] }

/** What a sample was doing, from its stack (async frames break call chains: classify by frames). */
function activity(n: CpuNode, stack: string[]): string {
  const has = (re: RegExp) => stack.some((f) => re.test(f));
  const fn = n.callFrame.functionName;
  if (fn === '(idle)') return 'idle';
  if (fn === '(garbage collector)') return 'garbage collection';
  if (has(/^toQuery@node_modules\/drizzle-orm/)) return 'drizzle: building SQL text + params (sqlToQuery)';
  if (has(/@node_modules\/drizzle-orm/)) return 'drizzle: other (builders, result mapping)';
  if (has(/@node_modules\/postgres\//)) return 'postgres.js: protocol, (de)serialisation';
  if (has(/^splitBody@/)) return 'JSON.parse of the request body (splitBody)';
  if (has(/@service\/src\/domain\/(usage|money)/)) return 'service: parse items, money, ingest logic';
  if (has(/@node_modules\/(hono|@hono)/) || has(/fullyReadBody|parserOnBody|onStreamRead/)) return 'HTTP: read body, routing, response';
  return `other: ${fn || '(anonymous)'}@${stack[0]?.split('@')[1] ?? ''}`;
}

/**
 * Summarise the main thread's profile over [fromMs, toMs] after the process started (the load
 * window): self time by function and by package/file, and inclusive time by activity (stack classification), in % of the window's samples (idle included).
 */
export function summariseCpuProfile(dir: string, fromMs = 0, toMs = Infinity) {
  // One profile per thread (tsx's loader hooks run in a worker): keep the busiest, the main thread.
  const busy = (p: CpuProfile) => p.nodes.reduce((s, n) => s + (n.callFrame.functionName === '(idle)' ? 0 : n.hitCount ?? 0), 0);
  const profiles = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'))
    .map((file) => ({ file, prof: JSON.parse(readFileSync(path.join(dir, file), 'utf8')) as CpuProfile }))
    .sort((a, b) => busy(b.prof) - busy(a.prof));
  if (!profiles[0]) return null;
  const { file, prof } = profiles[0];
  const byId = new Map(prof.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const where = (n: CpuNode) => n.callFrame.url.replace(/^file:\/\//, '').replace(process.cwd() + '/', '') || '(native)';
  const area = (f: string) => f.startsWith('node_modules/') ? f.split('/').slice(0, f.split('/')[1]!.startsWith('@') ? 3 : 2).join('/') : f;
  const byFn = new Map<string, number>(), byFile = new Map<string, number>(), byActivity = new Map<string, number>();
  const bump = (m: Map<string, number>, k: string) => m.set(k, (m.get(k) ?? 0) + 1);
  let t = 0, total = 0;
  prof.samples.forEach((id, i) => {
    t += (prof.timeDeltas[i] ?? 0) / 1000;
    if (t < fromMs || t > toMs) return;
    total++;
    const n = byId.get(id)!;
    bump(byFn, `${n.callFrame.functionName || '(anonymous)'} ${where(n)}`);
    bump(byFile, area(where(n)));
    const stack: CpuNode[] = [];
    for (let s: CpuNode | undefined = n; s; s = byId.get(parent.get(s.id) ?? -1)) stack.push(s);
    bump(byActivity, activity(n, stack.map((f) => `${f.callFrame.functionName}@${where(f)}`)));
  });
  const top = (m: Map<string, number>, k: number) => [...m].sort((a, b) => b[1] - a[1]).slice(0, k).map(([name, h]) => ({ name, pct: +((100 * h) / total).toFixed(1) }));
  return { file: path.join(dir, file), windowMs: [Math.round(fromMs), Math.round(Math.min(toMs, t))], samples: total, selfByFunction: top(byFn, 20), selfByFile: top(byFile, 12), byActivity: top(byActivity, 12) };
}
