import { sql } from 'drizzle-orm';
import { rows, type Queryable } from '../db/client.js';

/**
 * Take (or renew) a named lease for `seconds`. Only one holder at a time: periodic jobs run on
 * one replica. Correctness never depends on it (every job is idempotent); it saves duplicate work.
 */
export async function tryLease(q: Queryable, name: string, holder: string, seconds: number): Promise<boolean> {
  const taken = await rows<{ name: string }>(
    q,
    sql`insert into job_leases (name, holder, expires_at) values (${name}, ${holder}, now() + make_interval(secs => ${seconds}))
        on conflict (name) do update set holder = excluded.holder, expires_at = excluded.expires_at
        where job_leases.expires_at < now() or job_leases.holder = excluded.holder
        returning name`,
  );
  return taken.length > 0;
}

export async function releaseLease(q: Queryable, name: string, holder: string): Promise<void> {
  await q.execute(sql`update job_leases set expires_at = now(), last_run_at = now() where name = ${name} and holder = ${holder}`);
}
