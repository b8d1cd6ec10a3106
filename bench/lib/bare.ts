/**
 * The machine's own limit for what the booking writes, measured in the same run: the rows the
 * service booked (usage_events and their ledger_entries, as stored) written again by bare
 * `COPY … FROM STDIN` into tables identical to the booking's — `CREATE TABLE … (LIKE … INCLUDING
 * ALL)`: same columns, defaults, constraints and indexes, fresh and empty like the service's at the
 * start — from ONE connection, one transaction (and so one commit) per batch of `batchSize` events,
 * as the service commits a batch. No JSON, no dedup lookup, no balances: the floor PostgreSQL and
 * the disk of this host put under any booking. A slower host has a lower limit; the service's
 * events/s divided by it is comparable across hosts.
 *
 * The same rows are also written by multi-row `INSERT … VALUES` (one statement per table per
 * batch, every value a parameter in PostgreSQL's text form, typed by the target columns), runs
 * interleaved with COPY's: what a plain INSERT statement costs over COPY is PostgreSQL's, the rest
 * of the gap to the booking is the booking's own work.
 */
import type { Sql } from './db.js';

export interface BareRun {
  seconds: number;
  eventsPerSec: number;
  /** CPU milliseconds all PostgreSQL processes used per 1000 events during the run. */
  postgresCpuMsPer1000Events: number;
}
export interface BareLimit {
  events: number;
  batchSize: number;
  indexes: { usage_events: number; ledger_entries: number };
  runs: BareRun[];
  /** Median of the runs. */
  eventsPerSec: number;
  /** The median run's PostgreSQL CPU milliseconds per 1000 events: what these rows cost the server at the least. */
  postgresCpuMsPer1000Events: number;
  /** The same rows by multi-row INSERT … VALUES, runs interleaved with COPY's. */
  multiRowInsert: { runs: BareRun[]; eventsPerSec: number; postgresCpuMsPer1000Events: number };
}

const TABLES = ['usage_events', 'ledger_entries'] as const;

/** The rows of `query` as PostgreSQL's text output of each value (null as null), with the column names. */
async function textRows(sql: Sql, query: string): Promise<{ columns: string[]; rows: (string | null)[][] }> {
  const result = (await sql.unsafe(query).raw()) as unknown as (Buffer | null)[][] & { columns: { name: string }[] };
  return { columns: result.columns.map((c) => c.name), rows: result.map((r) => r.map((v) => (v === null ? null : v.toString('utf8')))) };
}

/** A row as one line of COPY text format (`\N` for null; backslash, tab, newline and carriage return escaped). */
const copyLine = (r: (string | null)[]) => Buffer.from(`${r.map((v) => (v === null ? '\\N' : v.replace(/[\\\t\n\r]/g, (c) => ESC[c]!))).join('\t')}\n`);
const ESC: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' };

/** `insert into <table> (<columns>) values ($1, …), (…)` for `n` rows. */
function insertText(table: string, columns: string[], n: number): string {
  const rows: string[] = [];
  for (let i = 0; i < n; i++) rows.push(`(${columns.map((_, c) => `$${i * columns.length + c + 1}`).join(', ')})`);
  return `insert into ${table} (${columns.map((c) => `"${c}"`).join(', ')}) values ${rows.join(', ')}`;
}

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
 * and their ledger entries, written `repeats` times by COPY and as many by INSERT, alternating,
 * each time into fresh `bare_*` tables. The caller's service must be idle meanwhile.
 * `postgresCpu`: CPU seconds used so far by the PostgreSQL processes, read at the edges of each
 * run (the checkpoint before it is outside).
 */
export async function bareInsertLimit(sql: Sql, events: number, batchSize: number, postgresCpu: () => number, repeats = 3): Promise<BareLimit> {
  const usage = await textRows(sql, `select * from usage_events order by id limit ${events}`);
  const ledger = await textRows(sql, `select l.* from ledger_entries l join (select id from usage_events order by id limit ${events}) u
    on l.usage_event_id = u.id order by l.usage_event_id`);
  if (usage.rows.length !== events || ledger.rows.length !== events) throw new Error(`bare insert: expected ${events} events and ledger entries, got ${usage.rows.length} / ${ledger.rows.length}`);
  const slices: { usage: (string | null)[][]; ledger: (string | null)[][] }[] = [];
  for (let i = 0; i < events; i += batchSize) slices.push({ usage: usage.rows.slice(i, i + batchSize), ledger: ledger.rows.slice(i, i + batchSize) });
  const copyBatches = slices.map((b) => [Buffer.concat(b.usage.map(copyLine)), Buffer.concat(b.ledger.map(copyLine))] as const);
  const insertBatches = slices.map((b) => ({
    usage: { text: insertText('bare_usage_events', usage.columns, b.usage.length), params: b.usage.flat() },
    ledger: { text: insertText('bare_ledger_entries', ledger.columns, b.ledger.length), params: b.ledger.flat() },
  }));
  const copyRuns: BareRun[] = [];
  const insertRuns: BareRun[] = [];
  let indexes = { usage_events: 0, ledger_entries: 0 };
  const conn = await sql.reserve();
  const timed = async (write: () => Promise<void>): Promise<BareRun> => {
    for (const t of TABLES) await conn.unsafe(`drop table if exists bare_${t}; create table bare_${t} (like ${t} including all)`);
    await conn.unsafe('checkpoint'); // start each run from the same WAL state
    const cpu0 = postgresCpu();
    const t0 = performance.now();
    await write();
    const seconds = (performance.now() - t0) / 1000;
    const cpuMs = (postgresCpu() - cpu0) * 1000;
    return { seconds: +seconds.toFixed(2), eventsPerSec: Math.round(events / seconds), postgresCpuMsPer1000Events: Math.round((cpuMs * 1000) / events) };
  };
  try {
    for (let r = 0; r < repeats; r++) {
      copyRuns.push(await timed(async () => {
        for (const [u, l] of copyBatches) {
          await conn.unsafe('begin');
          await copyIn(conn as unknown as Sql, 'bare_usage_events', u);
          await copyIn(conn as unknown as Sql, 'bare_ledger_entries', l);
          await conn.unsafe('commit');
        }
      }));
      insertRuns.push(await timed(async () => {
        for (const b of insertBatches) {
          await conn.unsafe('begin');
          await conn.unsafe(b.usage.text, b.usage.params);
          await conn.unsafe(b.ledger.text, b.ledger.params);
          await conn.unsafe('commit');
        }
      }));
    }
    const [n] = await conn.unsafe<{ u: string; l: string; ou: string; ol: string }[]>(`select
      (select count(*) from pg_indexes where tablename = 'bare_usage_events') as u, (select count(*) from pg_indexes where tablename = 'bare_ledger_entries') as l,
      (select count(*) from pg_indexes where tablename = 'usage_events') as ou, (select count(*) from pg_indexes where tablename = 'ledger_entries') as ol`);
    if (n!.u !== n!.ou || n!.l !== n!.ol) throw new Error(`bare insert: index counts differ (${n!.u}/${n!.ou}, ${n!.l}/${n!.ol})`);
    indexes = { usage_events: Number(n!.u), ledger_entries: Number(n!.l) };
    // the last run (INSERT) wrote every row: it must have stored them all
    const [c] = await conn.unsafe<{ u: string; l: string }[]>(`select (select count(*) from bare_usage_events) as u, (select count(*) from bare_ledger_entries) as l`);
    if (Number(c!.u) !== events || Number(c!.l) !== events) throw new Error(`bare insert: the INSERT run stored ${c!.u} / ${c!.l} of ${events} rows`);
    for (const t of TABLES) await conn.unsafe(`drop table bare_${t}`);
  } finally {
    conn.release();
  }
  const mid = (runs: BareRun[]) => [...runs].sort((a, b) => a.eventsPerSec - b.eventsPerSec)[Math.floor(runs.length / 2)]!;
  const c = mid(copyRuns), i = mid(insertRuns);
  return {
    events, batchSize, indexes, runs: copyRuns, eventsPerSec: c.eventsPerSec, postgresCpuMsPer1000Events: c.postgresCpuMsPer1000Events,
    multiRowInsert: { runs: insertRuns, eventsPerSec: i.eventsPerSec, postgresCpuMsPer1000Events: i.postgresCpuMsPer1000Events },
  };
}
