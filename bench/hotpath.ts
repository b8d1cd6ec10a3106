/**
 * `npm run bench -- hotpath`: three costs of the ingestion hot path, each against its alternative,
 * interleaved in one run (so the ratio holds on a noisy machine), CPU time not wall time:
 *  A. the service reading a 512-event webhook body (the ingestion bench's payloads): every element
 *     decoded and parsed whole (the path before PAYLOAD_READ) vs only what PAYLOAD_READ names
 *     (jsonArrayItems), and the whole body in one JSON.parse for reference, each followed by
 *     prepareUsage: CPU ms of this process per batch;
 *  B. parseScaled on the batch's costs and start/end times: its plain-decimal path vs the general
 *     BigInt path (the same text with "e0"): µs per event;
 *  C. PostgreSQL decoding the booking statement's rows (json_to_recordset, 512 rows shaped like the
 *     service's): the metadata column declared jsonb vs declared json and cast to jsonb: CPU ms of
 *     the server backend per call (/proc/<pid>/stat).
 * Each round runs every variant of a measure once (BENCH_HOTPATH_ROUNDS, 15; median reported),
 * with the machine's busy cores minus this process and the backend as `others`.
 * Report: stdout + bench/results/hotpath.json.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { prepareUsage } from '../service/src/domain/usage/ingest.js';
import { jsonArrayItems, skimArray } from '../service/src/domain/usage/parse.js';
import { parseScaled } from '../service/src/domain/money.js';
import { connectNoDelay } from './lib/db.js';
import { benchDatabaseUrl, num, RESULTS } from './lib/env.js';
import { buildEvent, type Person } from './lib/events.js';
import { cpuSnapshot, machine } from './lib/proc.js';

const ROUNDS = num('BENCH_HOTPATH_ROUNDS', 15);
const BATCH = 512;
const say = (s: string) => process.stdout.write(`[hotpath] ${s}\n`);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const ownCpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
const TICK_MS = 10; // USER_HZ = 100 on Linux
const pidCpuMs = (pid: number) => {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(f[11]) + Number(f[12])) * TICK_MS;
};

interface Variant {
  name: string;
  /** One run; returns the CPU milliseconds it cost (of this process or of the backend). */
  run: () => Promise<number>;
}

async function compare(title: string, unit: string, variants: Variant[], backendPid?: number) {
  const costs = variants.map(() => [] as number[]);
  const before = cpuSnapshot(process.pid, undefined);
  const backendBefore = backendPid ? pidCpuMs(backendPid) : 0;
  for (let r = 0; r < ROUNDS; r++) for (const [i, v] of variants.entries()) costs[i]!.push(await v.run());
  const after = cpuSnapshot(process.pid, undefined);
  const seconds = (after.at - before.at) / 1000;
  const others = (after.machineBusy - before.machineBusy - (after.bench - before.bench) - (backendPid ? (pidCpuMs(backendPid) - backendBefore) / 1000 : 0)) / seconds;
  const rows = variants.map((v, i) => ({ variant: v.name, median: Number(median(costs[i]!).toFixed(3)), min: Number(Math.min(...costs[i]!).toFixed(3)), max: Number(Math.max(...costs[i]!).toFixed(3)) }));
  const ratio = Number((rows[1]!.median / rows[0]!.median).toFixed(2));
  say(`${title} (${unit}, median of ${ROUNDS}; others ${others.toFixed(2)} cores):`);
  for (const row of rows) say(`  ${row.variant.padEnd(44)} ${row.median} (${row.min}–${row.max})`);
  say(`  ratio second / first: ${ratio}`);
  return { title, unit, rows, ratio, othersCores: Number(others.toFixed(2)) };
}

async function main() {
  mkdirSync(RESULTS, { recursive: true });
  const people: Person[] = Array.from({ length: 300 }, (_, i) => ({ userId: `usr_${randomUUID()}`, keyHash: randomUUID().replaceAll('-', '').repeat(2), keyAlias: `key-${i}` }));
  const nowSec = Date.now() / 1000;
  const bodies = Array.from({ length: 8 }, () => {
    const events = Array.from({ length: BATCH }, (_, i) => buildEvent(people, i % people.length, nowSec).body);
    return new Uint8Array(Buffer.concat([Buffer.from('['), ...events.flatMap((e, i) => (i ? [Buffer.from(','), e] : [e])), Buffer.from(']')]));
  });
  let next = 0;
  const body = () => bodies[next++ % bodies.length]!;
  const decoder = new TextDecoder();
  const cpuOf = (f: () => void) => async () => {
    const t = ownCpuMs();
    f();
    return ownCpuMs() - t;
  };
  // the two paths book the same batch (checked once, on every body)
  for (const b of bodies) {
    if (JSON.stringify(prepareUsage(jsonArrayItems(b)!)) !== JSON.stringify(prepareUsage(JSON.parse(decoder.decode(b)) as unknown[]))) throw new Error('the skimmed batch differs from the fully parsed one');
  }
  /** The path before PAYLOAD_READ: the body split into elements, each decoded and parsed whole. */
  const wholeElements = (b: Uint8Array) => {
    const { bytes, slices } = skimArray(b, true)!;
    const out: unknown[] = [];
    for (let i = 0; i < slices.length; i += 4) out.push(JSON.parse(decoder.decode(bytes.subarray(slices[i]!, slices[i + 1]!))));
    return out;
  };
  const parse = await compare('A. reading a 512-event body (+ prepareUsage)', 'CPU ms per batch', [
    { name: 'every element decoded and parsed (before)', run: cpuOf(() => prepareUsage(wholeElements(body()))) },
    { name: 'only PAYLOAD_READ (jsonArrayItems)', run: cpuOf(() => prepareUsage(jsonArrayItems(body())!)) },
    { name: 'whole body in one JSON.parse (for reference)', run: cpuOf(() => prepareUsage(JSON.parse(decoder.decode(body())) as unknown[])) },
  ]);

  const values = (JSON.parse(decoder.decode(bodies[0]!)) as { response_cost: number; startTime: number; endTime: number }[]).flatMap((e) => [
    [String(e.response_cost), 9] as const,
    [String(e.startTime), 6] as const,
    [String(e.endTime), 6] as const,
  ]);
  const times = 20;
  const perEvent = (suffix: string) =>
    cpuOf(() => {
      for (let t = 0; t < times; t++) for (const [text, scale] of values) parseScaled(text + suffix, scale);
    });
  const scaled = await compare('B. parseScaled on cost, start and end time', `CPU ms per ${times} batches`, [
    { name: 'general path (BigInt, "e0" appended)', run: perEvent('e0') },
    { name: 'plain-decimal path', run: perEvent('') },
  ]);

  const sql = connectNoDelay(benchDatabaseUrl(), 1);
  try {
    for (const t of ['114', '3802']) (sql.options.serializers as Record<string, (x: unknown) => unknown>)[t] = (x) => x; // as drizzle's driver: the JSON text as is
    const [backendRow] = await sql<{ pid: number; version: string }[]>`select pg_backend_pid() as pid, current_setting('server_version') as version`;
    const { pid, version } = backendRow!;
    const rowsJson = JSON.stringify(
      Array.from({ length: BATCH }, (_, i) => ({
        k: `c2:${randomUUID().replaceAll('-', '').repeat(2)}`,
        c: randomUUID(),
        p: `chatcmpl-${randomUUID().replaceAll('-', '').slice(0, 24)}`,
        h: people[i % people.length]!.keyHash,
        ki: `key_${randomUUID()}`,
        u: people[i % people.length]!.userId,
        t: 'acompletion',
        m: 'gpt-4o-mini',
        g: 'gpt-4o-mini',
        pt: 100 + i,
        ct: 50 + i,
        tt: 150 + 2 * i,
        n: 94_200 + i,
        d: 250_532 + i,
        st: new Date(nowSec * 1000 - 3000).toISOString(),
        et: new Date(nowSec * 1000).toISOString(),
        md: { user_api_key_alias: `key-${i}`, user_api_key_user_id: people[i % people.length]!.userId, user_api_key_team_id: 'team-bench', user_api_key_spend: 0.0123456 },
      })),
    );
    const cols = 'k text, c text, p text, h text, ki text, u text, f boolean, t text, m text, g text, pt int, ct int, tt int, n bigint, d bigint, st timestamptz, et timestamptz, l boolean';
    const backend = (q: string) => async () => {
      const t = pidCpuMs(pid);
      for (let i = 0; i < 30; i++) await sql.unsafe(q, [rowsJson], { prepare: true });
      return (pidCpuMs(pid) - t) / 30;
    };
    const recordset = await compare('C. PostgreSQL decoding 512 booking rows', 'backend CPU ms per call (30 calls a run)', [
      { name: 'metadata column jsonb', run: backend(`select count(md) from json_to_recordset($1::json) as x(${cols}, md jsonb)`) },
      { name: 'metadata column json, cast ::jsonb', run: backend(`select count(md::jsonb) from json_to_recordset($1::json) as x(${cols}, md json)`) },
    ], pid);
    const result = { at: new Date().toISOString(), machine: machine(version), method: 'see bench/hotpath.ts', rounds: ROUNDS, parse, scaled, recordset };
    writeFileSync(path.join(RESULTS, 'hotpath.json'), `${JSON.stringify(result, null, 2)}\n`);
    say('written bench/results/hotpath.json');
  } finally {
    await sql.end();
  }
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(e);
    process.exit(1);
  },
);
