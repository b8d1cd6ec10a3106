import { sql } from 'drizzle-orm';
import { rows, type Queryable } from '../db/client.js';

/**
 * Take a named lease for `seconds`, only if nobody holds it — not even this holder: a run still
 * going when the next tick comes must not overlap itself. Periodic jobs thus run on one replica
 * at a time. Correctness never depends on it (every job is idempotent); it saves duplicate work.
 */
export async function tryLease(q: Queryable, name: string, holder: string, seconds: number): Promise<boolean> {
  const taken = await rows<{ name: string }>(
    q,
    sql`insert into job_leases (name, holder, expires_at) values (${name}, ${holder}, now() + make_interval(secs => ${seconds}))
        on conflict (name) do update set holder = excluded.holder, expires_at = excluded.expires_at
        -- <=: a released lease ends at now(); PGlite's clock ticks in milliseconds, so the next
        -- statement may see the same now() (service/test/lease.int.test.ts, embedded mode)
        where job_leases.expires_at <= now()
        returning name`,
  );
  return taken.length > 0;
}

/** Extend a lease this holder still has (a long run keeps it); false when it was lost. */
export async function renewLease(q: Queryable, name: string, holder: string, seconds: number): Promise<boolean> {
  const renewed = await rows<{ name: string }>(
    q,
    sql`update job_leases set expires_at = now() + make_interval(secs => ${seconds})
        where name = ${name} and holder = ${holder} and expires_at > now() returning name`,
  );
  return renewed.length > 0;
}

export async function releaseLease(q: Queryable, name: string, holder: string): Promise<void> {
  await q.execute(sql`update job_leases set expires_at = now(), last_run_at = now() where name = ${name} and holder = ${holder}`);
}

/**
 * Run `work` under the lease `name` when it is free: the lease is held for `seconds` and renewed
 * every `seconds / 3` while the work runs, then released. Returns whether the work ran.
 */
export async function withLease(q: Queryable, name: string, holder: string, seconds: number, work: () => Promise<unknown>): Promise<boolean> {
  if (!(await tryLease(q, name, holder, seconds))) return false;
  const renew = setInterval(() => void renewLease(q, name, holder, seconds).catch(() => {}), Math.max(1000, (seconds * 1000) / 3));
  renew.unref();
  try {
    await work();
  } finally {
    clearInterval(renew);
    await releaseLease(q, name, holder);
  }
  return true;
}
