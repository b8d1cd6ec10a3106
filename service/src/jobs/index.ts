import { randomUUID } from 'node:crypto';
import type { Deps } from '../deps.js';
import { runRollover } from '../domain/periods/rollover.js';
import { runRetention } from '../domain/retention.js';
import { drainOutbox } from './outbox.js';
import { reconcile } from './reconcile.js';
import { withLease } from './lease.js';

/** Outbox drains running at once in one process (against a LiteLLM answering in 5 ms, 2 → 4 gave ~1.7× the pushes per second). */
const OUTBOX_WORKERS = 4;

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
  const wakers = new Set<() => void>();
  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const done = () => {
        wakers.delete(done);
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(done, ms).unref();
      wakers.add(done);
    });
  const wakeAll = () => [...wakers].forEach((w) => w());

  // Several drains at once (their claims never overlap: SKIP LOCKED, one item per key), so one
  // batch's LiteLLM calls overlap another's database work: a month boundary or a factor change
  // queues a push for every key.
  const outboxLoops = Array.from({ length: OUTBOX_WORKERS }, async () => {
    while (!stopped) {
      let done = 0;
      try {
        done = await drainOutbox(deps);
      } catch (err) {
        deps.log.error({ err: (err as Error).message }, 'outbox worker failed; retrying');
      }
      if (done === 0 && !stopped) await sleep(opts.outboxIntervalMs ?? 250);
    }
  });

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
  deps.wake.outbox = wakeAll;
  return {
    async stop() {
      stopped = true;
      deps.wake.outbox = () => {};
      timers.forEach(clearInterval);
      wakeAll();
      await Promise.all(outboxLoops);
    },
  };
}
