/**
 * Load generator: a separate process (forked by bench/run.ts) so its CPU is not the service's.
 * Pre-generates every fresh event before the timed window, then keeps BENCH_CONCURRENCY batches
 * in flight over keep-alive connections. Each batch = fresh events + 10% exact re-sends of events
 * whose batch was already acknowledged. Writes its measurements to the file given as argv[2].
 */
import { readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { buildEvent, milliOf, pickPerson, type BuiltEvent, type Person } from './lib/events.js';

interface LoadConfig {
  url: string;
  secret: string;
  peopleFile: string;
  factorMicro: string;
  seconds: number;
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
const target = new URL('/webhooks/litellm', cfg.url);
const agent = new http.Agent({ keepAlive: true, maxSockets: cfg.concurrency });
const say = (m: string) => process.stdout.write(`[load] ${m}\n`);

function freshEvents(n: number): BuiltEvent[] {
  const now = Date.now() / 1000;
  return Array.from({ length: n }, () => buildEvent(people, pickPerson(people.length), now));
}

// ---- pre-generation (before any timing) --------------------------------------------------------
const t0 = performance.now();
const warmup = Array.from({ length: cfg.warmupBatches }, () => freshEvents(cfg.batchSize));
const pregenBatches = Math.ceil((cfg.seconds * cfg.pregenRate) / freshPerBatch);
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
function post(body: Buffer): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(target, {
      method: 'POST',
      agent,
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

const acked: BuiltEvent[] = []; // fresh events whose batch got a 200: the pool duplicates come from
const errors: string[] = [];
const totals = { batches: 0, sentEvents: 0, freshSent: 0, dupSent: 0, accepted: 0, duplicate: 0, unattributed: 0, rejected: 0, bytes: 0 };
const latencies: number[] = [];
let generatedInWindow = 0;

async function send(fresh: BuiltEvent[], dups: BuiltEvent[], timed: boolean) {
  const all = [...fresh.map((e) => e.body), ...dups.map((e) => e.body)];
  for (let i = all.length - 1; i > 0; i--) { // dups at random positions
    const j = Math.floor(Math.random() * (i + 1));
    [all[i], all[j]] = [all[j]!, all[i]!];
  }
  const body = bodyOf(all);
  const start = performance.now();
  let res;
  try {
    res = await post(body);
  } catch (e) {
    errors.push(`network: ${(e as Error).message}`);
    return;
  }
  const ms = performance.now() - start;
  if (res.status !== 200) {
    errors.push(`HTTP ${res.status}: ${res.text.slice(0, 300)}`);
    return;
  }
  const c = JSON.parse(res.text) as Counts;
  if (c.accepted !== fresh.length || c.duplicate !== dups.length || c.unattributed !== 0 || c.rejected !== 0) {
    errors.push(`batch counts ${res.text} (sent ${fresh.length} fresh + ${dups.length} dups)`);
  }
  acked.push(...fresh);
  if (!timed) return;
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

function pickDups(n: number): BuiltEvent[] {
  const idx = new Set<number>();
  while (idx.size < Math.min(n, acked.length)) idx.add(Math.floor(Math.random() * acked.length));
  return [...idx].map((i) => acked[i]!);
}

async function runPool(next: () => (() => Promise<void>) | null) {
  await Promise.all(Array.from({ length: cfg.concurrency }, async () => {
    for (let job = next(); job; job = next()) await job();
  }));
}

async function main() {
  let w = 0;
  await runPool(() => (w < warmup.length ? ((b) => () => send(b, [], false))(warmup[w++]!) : null));
  if (errors.length) throw new Error(`warm-up failed: ${errors[0]}`);
  say(`warm-up done (${warmup.length} batches); timed window ${cfg.seconds} s, concurrency ${cfg.concurrency}`);

  process.send?.({ type: 'window-start' });
  const start = performance.now();
  const deadline = start + cfg.seconds * 1000;
  let b = 0;
  await runPool(() => {
    if (performance.now() >= deadline || errors.length) return null;
    let fresh = pregenerated[b++];
    if (!fresh) { fresh = freshEvents(freshPerBatch); generatedInWindow += fresh.length; }
    const batch = fresh;
    return () => send(batch, pickDups(dupPerBatch), true);
  });
  const wallMs = performance.now() - start;
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
    errors,
    generatedInWindow,
    pregeneratedEvents: pregenBatches * freshPerBatch,
    avgEventBytes: avgBytes,
    warmupEvents: warmup.length * cfg.batchSize,
    uniqueEventsAcked: acked.length,
    expected: {
      totalMilli: totalMilli.toString(),
      totalNano: totalNano.toString(),
      perPerson: people.map((p, i) => ({ userId: p.userId, milli: perPersonMilli[i]!.toString(), nano: perPersonNano[i]!.toString(), events: 0 })),
    },
  };
  for (const e of acked) result.expected.perPerson[e.person]!.events++;
  writeFileSync(outFile, JSON.stringify(result));
  agent.destroy();
}

main().then(() => process.exit(0), (e: unknown) => {
  process.stderr.write(`[load] ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
