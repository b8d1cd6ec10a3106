/**
 * Load generator: a separate process (forked by bench/run.ts) so its CPU is not the service's.
 * Pre-generates every fresh event before the timed window, then keeps BENCH_CONCURRENCY batches
 * in flight over keep-alive connections. Each batch = fresh events + 10% exact re-sends of events
 * whose batch was already acknowledged. Writes its measurements to the file given as argv[2].
 * With several service URLs (`urls`, the latency scenario's two replicas) batches go round-robin
 * to the replicas and every re-sent duplicate goes to a replica other than the one that booked it.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { buildEvent, milliOf, pickPerson, type BuiltEvent, type Person } from './lib/events.js';

interface LoadConfig {
  url: string;
  /** Replicas: batches round-robin; duplicates re-sent to another replica. Default [url]. */
  urls?: string[];
  secret: string;
  peopleFile: string;
  factorMicro: string;
  /** Seconds per timed window. */
  seconds: number;
  /** Back-to-back timed windows (default 1); each reported on its own (bench/ingestion.ts). */
  windows?: number;
  concurrency: number;
  batchSize: number;
  dupRatio: number;
  warmupBatches: number;
  pregenRate: number;
}

const cfg = JSON.parse(process.env.BENCH_LOAD_CONFIG ?? '{}') as LoadConfig;
const outFile = process.argv[2]!;
const people = JSON.parse(readFileSync(cfg.peopleFile, 'utf8')) as Person[];
const factor = BigInt(cfg.factorMicro);
const dupPerBatch = Math.round(cfg.batchSize * cfg.dupRatio);
const freshPerBatch = cfg.batchSize - dupPerBatch;
const targets = (cfg.urls ?? [cfg.url]).map((u) => new URL('/webhooks/litellm', u));
const agents = targets.map(() => new http.Agent({ keepAlive: true, maxSockets: cfg.concurrency }));
const say = (m: string) => process.stdout.write(`[load] ${m}\n`);
const windows = Math.max(1, cfg.windows ?? 1);

function freshEvents(n: number): BuiltEvent[] {
  const now = Date.now() / 1000;
  return Array.from({ length: n }, () => buildEvent(people, pickPerson(people.length), now));
}

// ---- pre-generation (before any timing) --------------------------------------------------------
const t0 = performance.now();
const warmup = Array.from({ length: cfg.warmupBatches }, () => freshEvents(cfg.batchSize));
const pregenBatches = Math.ceil((windows * cfg.seconds * cfg.pregenRate) / freshPerBatch);
const pregenerated = Array.from({ length: pregenBatches }, () => freshEvents(freshPerBatch));
const avgBytes = Math.round(pregenerated.flat().reduce((s, e) => s + e.body.length, 0) / (pregenBatches * freshPerBatch));
say(`pre-generated ${warmup.length} warm-up + ${pregenBatches} batches (${pregenBatches * freshPerBatch} fresh events, ~${avgBytes} B/event) in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

// ---- sending ------------------------------------------------------------------------------------
const OPEN = Buffer.from('['), COMMA = Buffer.from(','), CLOSE = Buffer.from(']');
function bodyOf(events: Buffer[]): Buffer {
  const parts: Buffer[] = [OPEN];
  events.forEach((e, i) => parts.push(i ? COMMA : OPEN.subarray(0, 0), e));
  parts.push(CLOSE);
  return Buffer.concat(parts);
}

interface Counts { accepted: number; duplicate: number; unattributed: number; rejected: number }
function post(body: Buffer, replica: number): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(targets[replica]!, {
      method: 'POST',
      agent: agents[replica],
      headers: { 'content-type': 'application/json', 'content-length': body.length, authorization: `Bearer ${cfg.secret}` },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

const acked: BuiltEvent[] = []; // fresh events whose batch got a 200
const ackedBy: BuiltEvent[][] = targets.map(() => []); // … by the replica that booked them: the pools duplicates come from
const perReplica = targets.map((t) => ({ url: t.origin, batches: 0, freshSent: 0, dupSent: 0, accepted: 0, duplicate: 0, latencies: [] as number[] }));
let rr = 0;
const errors: string[] = [];
const totals = { batches: 0, sentEvents: 0, freshSent: 0, dupSent: 0, accepted: 0, duplicate: 0, unattributed: 0, rejected: 0, bytes: 0 };
const latencies: number[] = [];
let generatedInWindow = 0;
/** Per timed window: batches whose 200 arrived in it (a batch belongs to the window it ends in). */
const perWindow = Array.from({ length: windows }, () => ({ wallMs: 0, batches: 0, sentEvents: 0, accepted: 0, duplicate: 0, bytes: 0, latencies: [] as number[] }));
let current = -1; // the window being timed, -1 outside

async function send(fresh: BuiltEvent[], dups: BuiltEvent[], timed: boolean, replica: number) {
  const all = [...fresh.map((e) => e.body), ...dups.map((e) => e.body)];
  for (let i = all.length - 1; i > 0; i--) { // dups at random positions
    const j = Math.floor(Math.random() * (i + 1));
    [all[i], all[j]] = [all[j]!, all[i]!];
  }
  const body = bodyOf(all);
  const start = performance.now();
  let res;
  try {
    res = await post(body, replica);
  } catch (e) {
    errors.push(`network (${targets[replica]!.origin}): ${(e as Error).message}`);
    return;
  }
  const ms = performance.now() - start;
  if (res.status !== 200) {
    errors.push(`HTTP ${res.status} (${targets[replica]!.origin}): ${res.text.slice(0, 300)}`);
    return;
  }
  const c = JSON.parse(res.text) as Counts;
  if (c.accepted !== fresh.length || c.duplicate !== dups.length || c.unattributed !== 0 || c.rejected !== 0) {
    errors.push(`batch counts ${res.text} (sent ${fresh.length} fresh + ${dups.length} dups to ${targets[replica]!.origin})`);
  }
  acked.push(...fresh);
  ackedBy[replica]!.push(...fresh);
  if (!timed) return;
  const w = perWindow[current];
  if (w) {
    w.batches++;
    w.sentEvents += all.length;
    w.accepted += c.accepted;
    w.duplicate += c.duplicate;
    w.bytes += body.length;
    w.latencies.push(ms);
  }
  const r = perReplica[replica]!;
  r.batches++;
  r.freshSent += fresh.length;
  r.dupSent += dups.length;
  r.accepted += c.accepted;
  r.duplicate += c.duplicate;
  r.latencies.push(ms);
  latencies.push(ms);
  totals.batches++;
  totals.sentEvents += all.length;
  totals.freshSent += fresh.length;
  totals.dupSent += dups.length;
  totals.bytes += body.length;
  totals.accepted += c.accepted;
  totals.duplicate += c.duplicate;
  totals.unattributed += c.unattributed;
  totals.rejected += c.rejected;
}

/** n distinct acknowledged events, booked by a replica other than `replica` (if there are several). */
function pickDups(n: number, replica: number): BuiltEvent[] {
  const pools = ackedBy.length === 1 ? ackedBy : ackedBy.filter((_, i) => i !== replica);
  const size = pools.reduce((s, p) => s + p.length, 0);
  const idx = new Set<number>();
  while (idx.size < Math.min(n, size)) idx.add(Math.floor(Math.random() * size));
  return [...idx].map((i) => {
    for (const p of pools) {
      if (i < p.length) return p[i]!;
      i -= p.length;
    }
    throw new Error('unreachable');
  });
}

async function runPool(next: () => (() => Promise<void>) | null) {
  await Promise.all(Array.from({ length: cfg.concurrency }, async () => {
    for (let job = next(); job; job = next()) await job();
  }));
}

async function main() {
  let w = 0;
  await runPool(() => (w < warmup.length ? ((b, r) => () => send(b, [], false, r))(warmup[w++]!, rr++ % targets.length) : null));
  if (errors.length) throw new Error(`warm-up failed: ${errors[0]}`);
  say(`warm-up done (${warmup.length} batches); timed ${windows > 1 ? `${windows} windows × ` : 'window '}${cfg.seconds} s, concurrency ${cfg.concurrency}${targets.length > 1 ? `, ${targets.length} replicas round-robin` : ''}`);

  process.send?.({ type: 'window-start' });
  const start = performance.now();
  // Back-to-back windows with the load never pausing: at each edge the parent takes its CPU snapshot.
  const edges = Array.from({ length: windows + 1 }, (_, i) => start + i * cfg.seconds * 1000);
  const edgeAt = [start]; // when each edge was actually crossed (what the parent's CPU snapshots see)
  current = 0;
  process.send?.({ type: 'window-edge', index: 0 });
  const timer = setInterval(() => {
    const now = performance.now();
    if (current < windows - 1 && now >= edges[current + 1]!) {
      edgeAt.push(now);
      current++;
      process.send?.({ type: 'window-edge', index: current });
    }
  }, 5);
  const deadline = edges[windows]!;
  let b = 0;
  await runPool(() => {
    if (performance.now() >= deadline || errors.length) return null;
    let fresh = pregenerated[b++];
    if (!fresh) { fresh = freshEvents(freshPerBatch); generatedInWindow += fresh.length; }
    const batch = fresh, replica = rr++ % targets.length;
    return () => send(batch, pickDups(dupPerBatch, replica), true, replica);
  });
  clearInterval(timer);
  const wallMs = performance.now() - start;
  // The last window also takes the batches still in flight at its deadline (as the single window always did).
  const end = start + wallMs;
  while (edgeAt.length <= windows) edgeAt.push(end); // (a run cut short by errors)
  perWindow.forEach((w, i) => (w.wallMs = edgeAt[i + 1]! - edgeAt[i]!));
  current = -1;
  process.send?.({ type: 'window-edge', index: windows });
  process.send?.({ type: 'window-end' });

  // Expected booking, from what was sent and acknowledged (warm-up included).
  const perPersonMilli = people.map(() => 0n);
  const perPersonNano = people.map(() => 0n);
  let totalMilli = 0n, totalNano = 0n;
  for (const e of acked) {
    const m = milliOf(e.costNano, factor);
    perPersonMilli[e.person]! += m;
    perPersonNano[e.person]! += e.costNano;
    totalMilli += m;
    totalNano += e.costNano;
  }
  const result = {
    wallMs,
    totals,
    latencies,
    perWindow,
    errors,
    generatedInWindow,
    pregeneratedEvents: pregenBatches * freshPerBatch,
    avgEventBytes: avgBytes,
    warmupEvents: warmup.length * cfg.batchSize,
    uniqueEventsAcked: acked.length,
    // Several replicas: per replica, and every duplicate was re-sent to a replica that had not booked it.
    perReplica: targets.length > 1 ? perReplica : undefined,
    expected: {
      totalMilli: totalMilli.toString(),
      totalNano: totalNano.toString(),
      perPerson: people.map((p, i) => ({ userId: p.userId, milli: perPersonMilli[i]!.toString(), nano: perPersonNano[i]!.toString(), events: 0 })),
    },
  };
  for (const e of acked) result.expected.perPerson[e.person]!.events++;
  writeFileSync(outFile, JSON.stringify(result));
  agents.forEach((a) => a.destroy());
}

main().then(() => process.exit(0), (e: unknown) => {
  process.stderr.write(`[load] ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
