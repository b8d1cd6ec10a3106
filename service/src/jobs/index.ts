import { randomUUID } from 'node:crypto';
import type { Deps } from '../deps.js';
import { runRollover } from '../domain/periods/rollover.js';
import { graceEnd, nextPeriod, periodOf, periodStartInstant } from '../lib/period.js';
import { runRetention } from '../domain/retention.js';
import { drainOutbox } from './outbox.js';
import { reconcile } from './reconcile.js';
import { withLease } from './lease.js';

/** The next instant the rollover has work at: the end of the current period's grace window, else the next period's start. */
export function nextBoundary(now: Date, timeZone: string, graceMinutes: number): Date {
  const current = periodOf(now, timeZone);
  const graceOver = graceEnd(current, timeZone, graceMinutes);
  return graceOver > now ? graceOver : periodStartInstant(nextPeriod(current), timeZone);
}

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

  const periodic = (name: string, everyMs: number, run: () => Promise<unknown>, atStart = true) => {
    let running = false; // a run longer than the interval is not started again beside itself
    let again = false;
    /** `rerun`: if a run is going on, run once more after it (a boundary must not be missed). */
    const tick = async (rerun = false) => {
      if (stopped) return;
      if (running) {
        again ||= rerun;
        return;
      }
      running = true;
      try {
        await withLease(deps.db, name, holder, 120, run);
      } catch (err) {
        deps.log.error({ job: name, err: (err as Error).message }, 'periodic job failed');
      } finally {
        running = false;
        if (again) {
          again = false;
          void tick();
        }
      }
    };
    if (atStart) void tick(); // catches up a rollover missed while the service was down
    return { tick, timer: setInterval(() => void tick(), everyMs).unref() };
  };
  const rollover = periodic('rollover', opts.rolloverIntervalMs ?? 60_000, () => runRollover(deps));
  const timers = [
    rollover.timer,
    periodic('retention', opts.retentionIntervalMs ?? 60 * 60_000, async () => {
      const deleted = await runRetention(deps.db, deps.config, deps.clock.now());
      if (Object.values(deleted).some((n) => n > 0)) deps.log.info({ deleted }, 'retention: old rows deleted');
    }).timer,
  ];
  // Not at start: a start at a month boundary pushes every key first, and a comparison of a
  // LiteLLM still being updated would only find pushes in flight.
  if (deps.litellm) timers.push(periodic('reconcile', opts.reconcileIntervalMs ?? 10 * 60_000, () => reconcile(deps), false).timer);

  // The rollover also runs at the period boundary itself and when its grace window ends, not up to
  // an interval later: the new month's budgets are on their way to LiteLLM from 00:00.
  let boundary: NodeJS.Timeout | undefined;
  const armBoundary = () => {
    if (stopped) return;
    const now = deps.clock.now();
    const at = nextBoundary(now, deps.config.TIMEZONE, deps.config.PERIOD_GRACE_MINUTES);
    // + 5 ms: just past the instant; at most 2^30 ms at once (setTimeout's limit is 2^31 - 1), then re-armed
    boundary = setTimeout(() => {
      if (deps.clock.now() >= at) void rollover.tick(true);
      armBoundary();
    }, Math.min(at.getTime() - now.getTime() + 5, 2 ** 30)).unref();
  };
  armBoundary();

  // A committed mutation may have queued outbox work: look now rather than at the next poll.
  deps.wake.outbox = wakeAll;
  return {
    async stop() {
      stopped = true;
      deps.wake.outbox = () => {};
      timers.forEach(clearInterval);
      clearTimeout(boundary);
      wakeAll();
      await Promise.all(outboxLoops);
    },
  };
}
