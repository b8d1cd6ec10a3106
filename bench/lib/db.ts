/** Bench database lifecycle and the exactness checks, in plain SQL on the bench database. */
import net from 'node:net';
import postgres from 'postgres';

export type Sql = ReturnType<typeof postgres>;

export function connect(url: string, max = 2): Sql {
  return postgres(url, { max, onnotice: () => {}, connection: { application_name: 'bench' } });
}

/**
 * Like connect, on sockets with TCP_NODELAY: without it, COPY's last small message waits for the
 * server's delayed ACK (~40 ms per COPY on loopback), which would measure Nagle, not PostgreSQL.
 */
export function connectNoDelay(url: string, max = 1): Sql {
  const u = new URL(url);
  const socket = () => net.connect({ host: u.hostname, port: Number(u.port || 5432), noDelay: true }); // still connecting: see service/src/db/transport.ts
  // `socket` (a connected socket per connection) is a postgres.js option its types do not declare.
  return postgres(url, { max, onnotice: () => {}, connection: { application_name: 'bench' }, ...({ socket } as object) });
}

/**
 * null when PostgreSQL at `url` answers, else why not, in one line (the password hidden): the
 * bench says what it needs instead of a stack trace.
 */
export async function unreachable(url: string): Promise<string | null> {
  let shown = url;
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    shown = u.toString();
  } catch {
    return `BENCH_DATABASE_URL is not a URL: expected postgres://user:password@host:port/database`;
  }
  const sql = postgres(url, { max: 1, connect_timeout: 5, onnotice: () => {} });
  try {
    await sql`select 1`;
    return null;
  } catch (e) {
    const err = e as Error & { code?: string };
    return `cannot reach PostgreSQL at ${shown} (${err.message || err.code})`;
  } finally {
    await sql.end({ timeout: 1 }).catch(() => {});
  }
}

export function withDatabase(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

export async function createDatabase(adminUrl: string, name: string) {
  const sql = connect(adminUrl, 1);
  try {
    await sql.unsafe(`create database "${name}"`);
    const [v] = await sql<{ server_version: string }[]>`show server_version`;
    return v!.server_version;
  } finally {
    await sql.end({ timeout: 5 });
  }
}

export async function dropDatabase(adminUrl: string, name: string) {
  const sql = connect(adminUrl, 1);
  try {
    await sql.unsafe(`drop database if exists "${name}" with (force)`);
  } finally {
    await sql.end({ timeout: 5 });
  }
}

export interface Expected {
  totalMilli: string;
  totalNano: string;
  perPerson: { userId: string; milli: string; nano: string; events: number }[];
}

export interface Check { name: string; ok: boolean; expected: string; actual: string }

/** What the load process reports about what it sent (bench/load.ts). */
export interface LoadOutcome {
  errors: string[];
  warmupEvents: number;
  uniqueEventsAcked: number;
  expected: Expected;
  totals: { accepted: number; duplicate: number; dupSent: number };
}

/**
 * The load process's errors, if any, then every exactness check: each compares numbers computed
 * in SQL with numbers the bench computed from what it sent.
 */
export async function verify(sql: Sql, load: LoadOutcome): Promise<Check[]> {
  const checks: Check[] = load.errors.length ? [{ name: 'load errors', ok: false, expected: '0', actual: `${load.errors.length}: ${load.errors.slice(0, 3).join(' / ')}` }] : [];
  const add = (name: string, expected: unknown, actual: unknown) =>
    checks.push({ name, ok: String(expected) === String(actual), expected: String(expected), actual: String(actual) });
  const x = {
    accepted: load.totals.accepted + load.warmupEvents,
    duplicateReported: load.totals.duplicate,
    duplicateSent: load.totals.dupSent,
    uniqueSent: load.uniqueEventsAcked,
    expected: load.expected,
  };

  const [ev] = await sql<{ n: string; attributed: string; debit: string; nano: string }[]>`
    select count(*) as n, count(user_id) as attributed, coalesce(sum(debit_milli), 0) as debit, coalesce(sum(cost_nano), 0) as nano from usage_events`;
  add('usage_events rows == accepted reported (incl. warm-up)', x.accepted, ev!.n);
  add('usage_events rows == unique events sent', x.uniqueSent, ev!.n);
  add('every booked event attributed to a person', ev!.n, ev!.attributed);
  const [dl] = await sql<{ n: string }[]>`select count(*) as n from dead_letters`;
  add('dead letters (must be 0: every event sent is well-formed)', 0, dl!.n);
  add('duplicates reported == duplicates sent', x.duplicateSent, x.duplicateReported);

  const [le] = await sql<{ n: string; milli: string; nano: string }[]>`
    select count(*) as n, coalesce(-sum(amount_milli), 0) as milli, coalesce(sum(usd_nano), 0) as nano
    from ledger_entries where kind = 'usage'`;
  add('usage ledger entries == booked events', ev!.n, le!.n);
  add('total debited milli-credits == Σ round_half_up(cost_nano·10^6/factor) computed by the bench', x.expected.totalMilli, le!.milli);
  add('usage_events.debit_milli total == bench expectation', x.expected.totalMilli, ev!.debit);
  add('total usd_nano booked == Σ cost_nano sent', x.expected.totalNano, le!.nano);

  const [bal] = await sql<{ people: string; bad: string }[]>`
    select count(*) as people, count(*) filter (where b.monthly_milli + b.topup_milli <> coalesce(l.s, 0)) as bad
    from balances b left join (select user_id, sum(amount_milli) as s from ledger_entries group by user_id) l using (user_id)`;
  add('people whose balance (monthly+topup) != Σ ledger amount', 0, bal!.bad);

  const [ks] = await sql<{ bad: string }[]>`
    select count(*) as bad from keys k
    left join (select key_id, sum(usd_nano) as s from ledger_entries where kind = 'usage' group by key_id) l on l.key_id = k.id
    where k.spend_nano <> coalesce(l.s, 0)`;
  add('keys whose spend_nano != Σ usage usd_nano', 0, ks!.bad);

  const [ro] = await sql<{ calls: string; milli: string; nano: string }[]>`
    select coalesce(sum(calls), 0) as calls, coalesce(sum(debit_milli), 0) as milli, coalesce(sum(cost_nano), 0) as nano from usage_rollup`;
  add('overview rollup calls / milli-credits / USD == the events booked (bench expectation)', `${x.uniqueSent} / ${x.expected.totalMilli} / ${x.expected.totalNano}`, `${ro!.calls} / ${ro!.milli} / ${ro!.nano}`);

  const per = await sql<{ user_id: string; milli: string; nano: string; n: string }[]>`
    select user_id, -sum(amount_milli) as milli, sum(usd_nano) as nano, count(*) as n from ledger_entries where kind = 'usage' group by user_id`;
  const got = new Map(per.map((r) => [r.user_id, r]));
  const badPeople = x.expected.perPerson.filter((p) => {
    const g = got.get(p.userId);
    return (g?.milli ?? '0') !== p.milli || (g?.nano ?? '0') !== p.nano || Number(g?.n ?? 0) !== p.events;
  });
  add('people whose debits/usd/event count differ from the bench expectation', 0, badPeople.length);

  const [neg] = await sql<{ n: string }[]>`select count(*) as n from balances where monthly_milli + topup_milli <= 0 or credit_state = 'blocked'`;
  add('people who ran out of credits (must be 0: nobody should be blocked)', 0, neg!.n);
  return checks;
}
