import type { Deps } from '../deps.js';
import { drainOutbox } from './outbox.js';

export interface Jobs {
  /** Wake the outbox worker now (after a commit that queued something). */
  kick(): void;
  stop(): Promise<void>;
}

/** Background loops of one service process. Every job is safe to run in N replicas at once. */
export function startJobs(deps: Deps, opts: { outboxIntervalMs?: number } = {}): Jobs {
  let stopped = false;
  let wake: (() => void) | undefined;
  const interval = opts.outboxIntervalMs ?? 250;

  const outboxLoop = (async () => {
    while (!stopped) {
      let done = 0;
      try {
        done = await drainOutbox(deps);
      } catch (err) {
        deps.log.error({ err: (err as Error).message }, 'outbox worker failed; retrying');
      }
      if (done === 0 && !stopped) {
        await new Promise<void>((resolve) => {
          wake = resolve;
          setTimeout(resolve, interval).unref();
        });
      }
    }
  })();

  return {
    kick: () => wake?.(),
    async stop() {
      stopped = true;
      wake?.();
      await outboxLoop;
    },
  };
}
