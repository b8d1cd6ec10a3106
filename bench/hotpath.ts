/**
 * `npm run bench -- hotpath`: four costs of the ingestion hot path, each against its alternative,
 * interleaved in one run (so the ratio holds on a noisy machine), CPU time not wall time:
 *  A. the service reading a 512-event webhook body (the ingestion bench's payloads): every element
 *     decoded and parsed whole (the path before PAYLOAD_READ) vs only what PAYLOAD_READ names
 *     (jsonArrayItems), and the whole body in one JSON.parse for reference, each followed by
 *     prepareUsage: CPU ms of this process per batch;
 *  B. parseScaled on the batch's costs and start/end times: its plain-decimal path vs the general
 *     BigInt path (the same text with "e0"): µs per event;
 *  C. the booking statement's rows of one such batch: as one JSON document for json_to_recordset
 *     (the path before) vs one array literal per column for unnest plus the metadata as a JSON
 *     array (ingest.ts BookingRows): C1 the service building them (CPU ms of this process), C2
 *     PostgreSQL decoding them, every column read (CPU ms of the server backend per call,
 *     /proc/<pid>/stat); both decode to the same rows (checked first).
 *  D. the service reading a webhook body of the ingestion bench's size (1.1 MB) from the socket:
 *     c.req.raw.arrayBuffer() behind hono's bodyLimit (a web ReadableStream; the path before) vs
 *     http/body.ts readBody (Node's request into one buffer): CPU ms of this process (the
 *     server) per request, the client a child process (bench/lib/post-client.ts).
 *  E. the usage lookup's list of our keys (330 of 1000, with balances, on temporary tables): one
 *     JSON object per key vs one JSON array per key: CPU ms of the server backend per call.
 * Each round runs every variant of a measure once (BENCH_HOTPATH_ROUNDS, 15; median reported),
 * with the machine's busy cores minus this process and the backend as `others`.
 * Report: stdout + bench/results/hotpath.json.
 */
import { fork } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { serve, type HttpBindings } from '@hono/node-server';
import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { readBody } from '../service/src/http/body.js';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { BookingRows, prepareUsage } from '../service/src/domain/usage/ingest.js';
import { jsonArrayItems, skimArray, type UsageItem } from '../service/src/domain/usage/parse.js';
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
    // The booking rows of one 512-event batch, as the service builds them, both ways.
    const items = prepareUsage(jsonArrayItems(bodies[0]!)!).good;
    const owner = (g: UsageItem) => ({ id: `key_${g.keyHash!.slice(0, 36)}`, user_id: `usr_${g.keyHash!.slice(36, 60)}`, used: 0, remaining: 0, behind: false });
    const debitOf = (g: UsageItem) => Math.round(g.costNano / 376);
    /** Before: one object per row with short names, JSON for json_to_recordset. */
    const asJson = () =>
      JSON.stringify(
        items.map((g) => {
          const key = owner(g);
          return {
            k: g.dedupKey, c: g.litellmCallId ?? undefined, p: g.providerId ?? undefined, h: g.keyHash ?? undefined, ki: key.id, u: key.user_id,
            f: g.status === 'failure' ? true : undefined, t: g.callType ?? undefined, m: g.model ?? undefined, g: g.modelGroup ?? undefined,
            pt: g.promptTokens || undefined, ct: g.completionTokens || undefined, tt: g.totalTokens || undefined, n: g.costNano || undefined,
            d: debitOf(g) || undefined, st: g.startTime?.toISOString(), et: g.endTime?.toISOString(), md: g.metadata,
          };
        }),
      );
    /** Now: ingest.ts BookingRows, one array literal per column and the metadata as one JSON array. */
    const asArrays = () => {
      const r = new BookingRows();
      for (const g of items) r.add(g, owner(g), debitOf(g), false);
      return r;
    };
    const serialise = await compare('C1. the service serialising the booking rows of a 512-event batch', `CPU ms per ${times} batches`, [
      { name: 'objects + JSON.stringify (before)', run: cpuOf(() => { for (let t = 0; t < times; t++) asJson(); }) },
      { name: 'BookingRows: array literals + metadata JSON', run: cpuOf(() => { for (let t = 0; t < times; t++) { const r = asArrays(); r.dedupKey.literal(); r.metadataJson(); } }) },
    ]);
    const json = asJson();
    const r = asArrays();
    const columns = [r.dedupKey, r.callId, r.providerId, r.keyHash, r.keyId, r.userId, r.failure, r.callType, r.model, r.modelGroup, r.promptTokens,
      r.completionTokens, r.totalTokens, r.costNano, r.debitMilli, r.startTime, r.endTime, r.late].map((c) => c.literal());
    const types = ['text', 'text', 'text', 'text', 'text', 'text', 'boolean', 'text', 'text', 'text', 'int', 'int', 'int', 'bigint', 'bigint', 'timestamptz', 'timestamptz', 'boolean'];
    const backend = (q: string, params: string[]) => async () => {
      const t = pidCpuMs(pid);
      for (let i = 0; i < 30; i++) await sql.unsafe(q, params, { prepare: true });
      return (pidCpuMs(pid) - t) / 30;
    };
    const cols = 'k text, c text, p text, h text, ki text, u text, f boolean, t text, m text, g text, pt int, ct int, tt int, n bigint, d bigint, st timestamptz, et timestamptz, l boolean';
    const read = 'count(md::jsonb), count(k), count(c), count(p), count(h), count(ki), count(u), count(*) filter (where f), count(t), count(m), count(g), coalesce(sum(pt), 0), coalesce(sum(ct), 0), coalesce(sum(tt), 0), coalesce(sum(n), 0), coalesce(sum(d), 0), count(st), count(et), count(*) filter (where l)';
    const same = await sql.unsafe<{ a: unknown }[]>(
      `select (select row(${read})::text from json_to_recordset($1::json) as x(${cols}, md json)) = (select row(${read})::text from unnest(${types.map((t, i) => `$${i + 2}::${t}[]`).join(', ')}) with ordinality as x(k, c, p, h, ki, u, f, t, m, g, pt, ct, tt, n, d, st, et, l, o) join json_array_elements($20::json) with ordinality as j(md, o) on j.o = x.o) as a`,
      [json, ...columns, r.metadataJson()],
    );
    if (same[0]!.a !== true) throw new Error('the two row encodings do not decode to the same rows');
    const recordset = await compare('C2. PostgreSQL decoding those rows (every column read)', 'backend CPU ms per call (30 calls a run)', [
      { name: 'json_to_recordset, metadata json cast to jsonb (before)', run: backend(`select ${read} from json_to_recordset($1::json) as x(${cols}, md json)`, [json]) },
      { name: 'unnest of array literals + json_array_elements', run: backend(`select ${read} from unnest(${types.map((t, i) => `$${i + 1}::${t}[]`).join(', ')}) with ordinality as x(k, c, p, h, ki, u, f, t, m, g, pt, ct, tt, n, d, st, et, l, o) join json_array_elements($19::json) with ordinality as j(md, o) on j.o = x.o`, [...columns, r.metadataJson()]) },
    ], pid);
    say(`  bytes sent: JSON ${json.length}, array literals + metadata ${columns.reduce((a, c) => a + c.length, 0) + r.metadataJson().length}`);
    // E. The usage lookup's list of our keys (ingest.ts bookUsageGroup), ~330 of 1000 keys with their
    // balances, on temporary tables shaped like keys/balances (text ids, a unique token_hash).
    await sql.unsafe(`create temp table e_keys (id text primary key, user_id text not null, token_hash text unique)`);
    await sql.unsafe(`create temp table e_balances (user_id text primary key, period_used_milli bigint, monthly_milli bigint, prev_monthly_milli bigint, topup_milli bigint, period_start date, prev_period_start date, grace_until timestamptz)`);
    await sql.unsafe(`insert into e_keys select 'key_' || g, 'usr_' || g, md5(g::text) || md5((g + 1)::text) from generate_series(1, 1000) g`);
    await sql.unsafe(`insert into e_balances select 'usr_' || g, g * 1000, 10^9, 0, 0, date '2026-12-01', null, null from generate_series(1, 1000) g`);
    await sql.unsafe('analyze e_keys; analyze e_balances');
    const hashes = JSON.stringify(Array.from({ length: 330 }, (_, i) => i * 3 + 1).map((g) => createHash('md5').update(String(g)).digest('hex') + createHash('md5').update(String(g + 1)).digest('hex')));
    const behind = `(b.period_start < date '2026-12-01' or (b.prev_period_start is not null and b.grace_until <= now()))`;
    const fromKeys = `from e_keys k left join e_balances b on b.user_id = k.user_id where k.token_hash in (select json_array_elements_text($1::json))`;
    const keysAsObjects = `select json_agg(json_build_object('id', k.id, 'user_id', k.user_id, 'token_hash', k.token_hash, 'used', coalesce(b.period_used_milli, 0), 'remaining', coalesce(b.monthly_milli + b.prev_monthly_milli + b.topup_milli, 0), 'behind', ${behind})) as v ${fromKeys}`;
    const keysAsArrays = `select json_agg(json_build_array(k.id, k.user_id, k.token_hash, coalesce(b.period_used_milli, 0), coalesce(b.monthly_milli + b.prev_monthly_milli + b.topup_milli, 0), ${behind})) as v ${fromKeys}`;
    const [o] = await sql.unsafe<{ v: unknown[] }[]>(keysAsObjects, [hashes]);
    if (o!.v.length !== 330) throw new Error('lookup: not the 330 keys asked for');
    const lookup = await compare('E. the usage lookup listing 330 of 1000 keys with their balances', 'backend CPU ms per call (30 calls a run)', [
      { name: 'json_build_object per key (before)', run: backend(keysAsObjects, [hashes]) },
      { name: 'json_build_array per key', run: backend(keysAsArrays, [hashes]) },
    ], pid);
    const body = await bodyRead(bodies[0]!.length);
    const result = { at: new Date().toISOString(), machine: machine(version), method: 'see bench/hotpath.ts', rounds: ROUNDS, parse, scaled, serialise, recordset, lookup, body };
    writeFileSync(path.join(RESULTS, 'hotpath.json'), `${JSON.stringify(result, null, 2)}\n`);
    say('written bench/results/hotpath.json');
  } finally {
    await sql.end();
  }
}

/** D: a hono app on @hono/node-server with both ways of reading a body; a child process posts. */
async function bodyRead(size: number) {
  const app = new Hono<{ Bindings: HttpBindings }>();
  const max = 10 * 1024 * 1024;
  let sink = 0;
  app.post('/web', bodyLimit({ maxSize: max }), async (c) => {
    sink += new Uint8Array(await c.req.raw.arrayBuffer()).length;
    return c.json({ ok: true });
  });
  app.post('/direct', async (c) => {
    sink += (await readBody(c, max)).length;
    return c.json({ ok: true });
  });
  const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' });
  await new Promise<void>((r) => server.once('listening', () => r()));
  const { port } = server.address() as AddressInfo;
  const child = fork(path.join(import.meta.dirname, 'lib', 'post-client.ts'), [String(size)], { execArgv: ['--import', 'tsx'] });
  await new Promise<void>((r) => child.once('message', () => r()));
  const PER_RUN = 20;
  const posts = (route: string) => async () => {
    const t = ownCpuMs();
    child.send({ url: `http://127.0.0.1:${port}${route}`, n: PER_RUN });
    await new Promise<void>((r) => child.once('message', () => r()));
    return (ownCpuMs() - t) / PER_RUN;
  };
  try {
    await posts('/web')();
    await posts('/direct')();
    return await compare(`D. the service reading a ${(size / 1e6).toFixed(1)} MB webhook body from the socket`, `server CPU ms per request (${PER_RUN} a run)`, [
      { name: 'c.req.raw.arrayBuffer() + bodyLimit (before)', run: posts('/web') },
      { name: 'http/body.ts readBody', run: posts('/direct') },
    ]);
  } finally {
    child.send('exit');
    server.close();
    if (sink < 0) say(String(sink));
  }
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(e);
    process.exit(1);
  },
);
