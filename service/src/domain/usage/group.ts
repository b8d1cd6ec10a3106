import type { PeriodDeps } from '../periods/rollover.js';
import { bookUsageGroup, type IngestOptions, type IngestResult, type UsageBatch } from './ingest.js';

interface Waiting {
  batch: UsageBatch;
  opts: IngestOptions;
  events: number;
  resolve: (r: IngestResult) => void;
  reject: (e: unknown) => void;
}

export interface GroupBooker {
  /** Book one batch, alone or together with the batches waiting beside it; its own counts back. */
  book(batch: UsageBatch, opts: IngestOptions): Promise<IngestResult>;
}

/**
 * Per-process group commit of webhook batches: at most `maxGroups` booking transactions run at
 * once; batches that arrive meanwhile wait and are then booked together, up to `maxEvents`
 * events, in one lookup, one transaction and one statement (bookUsageGroup), so concurrent
 * batches stop waiting on each other's balance row locks and share one commit. A batch that
 * finds a free slot is booked at once (no added wait). Each batch's answer is sent only after
 * the commit of its group, with its own counts. When a group of several fails, each of its
 * batches is retried alone, so one batch can never fail another.
 */
export function groupBooker(deps: PeriodDeps, maxGroups: number, maxEvents: number): GroupBooker {
  const queue: Waiting[] = [];
  let running = 0;

  const take = (): Waiting[] => {
    const head = queue.shift()!;
    const group = [head];
    let events = head.events;
    for (let i = 0; i < queue.length; ) {
      const w = queue[i]!;
      if (w.opts.source === head.opts.source && Boolean(w.opts.recovered) === Boolean(head.opts.recovered) && events + w.events <= maxEvents) {
        group.push(w);
        events += w.events;
        queue.splice(i, 1);
      } else i++;
    }
    return group;
  };

  const run = async (group: Waiting[]) => {
    // bookUsageGroup takes the items out of the batches; a group keeps them for the retry alone
    let kept = group.length > 1 ? group.map((w) => w.batch.good.slice()) : null;
    try {
      const results = await bookUsageGroup(deps, group.map((w) => w.batch), group[0]!.opts);
      kept = null;
      group.forEach((w, i) => w.resolve(results[i]!));
    } catch (e) {
      if (!kept) return group[0]!.reject(e);
      for (const [i, w] of group.entries()) {
        w.batch.good = kept[i]!;
        await bookUsageGroup(deps, [w.batch], w.opts).then(([r]) => w.resolve(r!), w.reject);
      }
    }
  };

  const pump = () => {
    while (running < maxGroups && queue.length > 0) {
      running++;
      void run(take()).finally(() => {
        running--;
        pump();
      });
    }
  };

  return {
    book(batch, opts) {
      return new Promise<IngestResult>((resolve, reject) => {
        queue.push({ batch, opts, events: batch.good.length, resolve, reject });
        pump();
      });
    },
  };
}
