/**
 * The machine's own limit for what the booking writes, measured in the same run: the rows the
 * service booked (usage_events and their ledger_entries, as stored) written again by bare
 * `COPY … FROM STDIN` into tables identical to the booking's — `CREATE TABLE … (LIKE … INCLUDING
 * ALL)`: same columns, defaults, constraints and indexes, fresh and empty like the service's at the
 * start — from ONE connection, one transaction (and so one commit) per batch of `batchSize` events,
 * as the service commits a batch. No JSON, no dedup lookup, no balances: the floor PostgreSQL and
 * the disk of this host put under any booking. A slower host has a lower limit; the service's
 * events/s divided by it is comparable across hosts.
 */
import type { Sql } from './db.js';

export interface BareRun {
  seconds: number;
  eventsPerSec: number;
  /** CPU milliseconds all PostgreSQL processes used per 1000 events during the run (with `postgresCpu`). */
  postgresCpuMsPer1000Events?: number;
}
export interface BareLimit {
  events: number;
  batchSize: number;
  indexes: { usage_events: number; ledger_entries: number };
  runs: BareRun[];
  /** Median of the runs. */
  eventsPerSec: number;
  /** The median run's PostgreSQL CPU milliseconds per 1000 events (with `postgresCpu`): what these rows cost the server at the least. */
  postgresCpuMsPer1000Events?: number;
}

const TABLES = ['usage_events', 'ledger_entries'] as const;

/**
 * The rows of `query`, each as one line of COPY text format (values in PostgreSQL's text output,
 * `\N` for null, backslash, tab, newline and carriage return escaped).
 */
async function copyLines(sql: Sql, query: string): Promise<Buffer[]> {
  const rows = (await sql.unsafe(query).raw()) as unknown as (Buffer | null)[][];
  return rows.map((r) => Buffer.from(`${r.map((v) => (v === null ? '\\N' : v.toString('utf8').replace(/[\\\t\n\r]/g, (c) => ESC[c]!))).join('\t')}\n`));
}
const ESC: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' };

async function copyIn(sql: Sql, table: string, data: Buffer): Promise<void> {
  const w = await sql.unsafe(`copy ${table} from stdin`).writable();
  await new Promise<void>((resolve, reject) => {
    w.once('error', reject);
    w.once('finish', resolve);
    w.end(data);
  });
}

/**
 * `events` booked events (the first by id: warm-up and window rows, all attributed and billed)
 * and their ledger entries, copied `repeats` times into fresh `bare_*` tables. The caller's
 * service must be idle meanwhile. `postgresCpu`: CPU seconds used so far by the PostgreSQL
 * processes, read at the edges of each run (the checkpoint before it is outside).
 */
export async function bareInsertLimit(sql: Sql, events: number, batchSize: number, repeats = 3, postgresCpu?: () => number): Promise<BareLimit> {
  const usage = await copyLines(sql, `select * from usage_events order by id limit ${events}`);
  const ledger = await copyLines(sql, `select l.* from ledger_entries l join (select id from usage_events order by id limit ${events}) u
    on l.usage_event_id = u.id order by l.usage_event_id`);
  if (usage.length !== events || ledger.length !== events) throw new Error(`bare insert: expected ${events} events and ledger entries, got ${usage.length} / ${ledger.length}`);
  const batches: [Buffer, Buffer][] = [];
  for (let i = 0; i < events; i += batchSize) {
    batches.push([Buffer.concat(usage.slice(i, i + batchSize)), Buffer.concat(ledger.slice(i, i + batchSize))]);
  }
  const runs: BareRun[] = [];
  let indexes = { usage_events: 0, ledger_entries: 0 };
  const conn = await sql.reserve();
  try {
    for (let r = 0; r < repeats; r++) {
      for (const t of TABLES) await conn.unsafe(`drop table if exists bare_${t}; create table bare_${t} (like ${t} including all)`);
      await conn.unsafe('checkpoint'); // start each run from the same WAL state
      const cpu0 = postgresCpu?.();
      const t0 = performance.now();
      for (const [u, l] of batches) {
        await conn.unsafe('begin');
        await copyIn(conn as unknown as Sql, 'bare_usage_events', u);
        await copyIn(conn as unknown as Sql, 'bare_ledger_entries', l);
        await conn.unsafe('commit');
      }
      const seconds = (performance.now() - t0) / 1000;
      const cpuMs = cpu0 === undefined ? undefined : (postgresCpu!() - cpu0) * 1000;
      runs.push({ seconds: +seconds.toFixed(2), eventsPerSec: Math.round(events / seconds), ...(cpuMs === undefined ? {} : { postgresCpuMsPer1000Events: Math.round((cpuMs * 1000) / events) }) });
    }
    const [n] = await conn.unsafe<{ u: string; l: string; ou: string; ol: string }[]>(`select
      (select count(*) from pg_indexes where tablename = 'bare_usage_events') as u, (select count(*) from pg_indexes where tablename = 'bare_ledger_entries') as l,
      (select count(*) from pg_indexes where tablename = 'usage_events') as ou, (select count(*) from pg_indexes where tablename = 'ledger_entries') as ol`);
    if (n!.u !== n!.ou || n!.l !== n!.ol) throw new Error(`bare insert: index counts differ (${n!.u}/${n!.ou}, ${n!.l}/${n!.ol})`);
    indexes = { usage_events: Number(n!.u), ledger_entries: Number(n!.l) };
    for (const t of TABLES) await conn.unsafe(`drop table bare_${t}`);
  } finally {
    conn.release();
  }
  const mid = [...runs].sort((a, b) => a.eventsPerSec - b.eventsPerSec)[Math.floor(runs.length / 2)]!;
  return { events, batchSize, indexes, runs, eventsPerSec: mid.eventsPerSec, postgresCpuMsPer1000Events: mid.postgresCpuMsPer1000Events };
}
