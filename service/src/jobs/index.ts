import { randomUUID } from 'node:crypto';
import type { Deps } from '../deps.js';
import { runRollover } from '../domain/periods/rollover.js';
import { runRetention } from '../domain/retention.js';
import { drainOutbox } from './outbox.js';
import { reconcile } from './reconcile.js';
import { withLease } from './lease.js';

export interface Jobs {
  stop(): Promise<void>;
}

export interface JobOptions {
  outboxIntervalMs?: number;
  rolloverIntervalMs?: number;
  reconcileIntervalMs?: number;
  retentionIntervalMs?: number;
}

/**
 * Background loops of one service process. Every job is safe with N replicas: the outbox by
 * SKIP LOCKED claims, periodic jobs by a lease (and idempotent bookings underneath).
 */
export function startJobs(deps: Deps, opts: JobOptions = {}): Jobs {
  const holder = randomUUID();
  let stopped = false;
  let wake: (() => void) | undefined;
  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      wake = resolve;
      setTimeout(resolve, ms).unref();
    });

  const outboxLoop = (async () => {
    while (!stopped) {
      let done = 0;
      try {
        done = await drainOutbox(deps);
      } catch (err) {
        deps.log.error({ err: (err as Error).message }, 'outbox worker failed; retrying');
      }
      if (done === 0 && !stopped) await sleep(opts.outboxIntervalMs ?? 250);
    }
  })();

  const periodic = (name: string, everyMs: number, run: () => Promise<unknown>) => {
    let running = false; // a run longer than the interval is not started again beside itself
    const tick = async () => {
      if (stopped || running) return;
      running = true;
      try {
        await withLease(deps.db, name, holder, 120, run);
      } catch (err) {
        deps.log.error({ job: name, err: (err as Error).message }, 'periodic job failed');
      } finally {
        running = false;
      }
    };
    void tick(); // at start: catches up a rollover missed while the service was down
    return setInterval(() => void tick(), everyMs).unref();
  };
  const timers = [
    periodic('rollover', opts.rolloverIntervalMs ?? 60_000, () => runRollover(deps)),
    periodic('retention', opts.retentionIntervalMs ?? 60 * 60_000, async () => {
      const deleted = await runRetention(deps.db, deps.config, deps.clock.now());
      if (Object.values(deleted).some((n) => n > 0)) deps.log.info({ deleted }, 'retention: old rows deleted');
    }),
  ];
  if (deps.litellm) timers.push(periodic('reconcile', opts.reconcileIntervalMs ?? 10 * 60_000, () => reconcile(deps)));

  // A committed mutation may have queued outbox work: look now rather than at the next poll.
  deps.wake.outbox = () => wake?.();
  return {
    async stop() {
      stopped = true;
      deps.wake.outbox = () => {};
      timers.forEach(clearInterval);
      wake?.();
      await outboxLoop;
    },
  };
}
