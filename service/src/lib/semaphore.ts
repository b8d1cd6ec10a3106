/** The wait queue is full: the caller should answer "busy, retry later". */
export class QueueFull extends Error {
  constructor() {
    super('the wait queue is full');
    this.name = 'QueueFull';
  }
}

interface Waiter {
  weight: number;
  resolve: () => void;
}

/**
 * At most `limit` holders at once, and at most `maxWeight` of total weight (e.g. body bytes; a
 * holder alone is always let in, whatever its weight). The others wait in arrival order (FIFO, so
 * no request waits forever behind later ones), at most `maxWaiting` of them: beyond that `acquire`
 * refuses at once (QueueFull). A waiter can give up (`signal`), leaving the queue. `run` releases on
 * success and on error.
 */
export function semaphore(limit: number, maxWaiting = Infinity, maxWeight = Infinity) {
  let active = 0;
  let weight = 0;
  const waiting: Waiter[] = [];
  const fits = (w: number) => active < limit && (active === 0 || weight + w <= maxWeight);
  const releaser = (w: number) => {
    let done = false;
    return () => {
      if (done) return;
      done = true;
      active--;
      weight -= w;
      while (waiting.length > 0 && fits(waiting[0]!.weight)) {
        const next = waiting.shift()!;
        active++; // the slot is counted for the waiter before it resumes
        weight += next.weight;
        next.resolve();
      }
    };
  };
  const take = (w: number) => {
    active++;
    weight += w;
    return releaser(w);
  };
  /** A slot: resolves with its release function, or rejects with QueueFull / the abort reason. */
  async function acquire(signal?: AbortSignal, w = 0): Promise<() => void> {
    if (waiting.length === 0 && fits(w)) return take(w);
    if (waiting.length >= maxWaiting) throw new QueueFull();
    signal?.throwIfAborted();
    await new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        weight: w,
        resolve: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      const onAbort = () => {
        const i = waiting.indexOf(waiter);
        if (i >= 0) waiting.splice(i, 1);
        reject(signal!.reason);
      };
      waiting.push(waiter);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
    return releaser(w); // counted in by the release that admitted it
  }
  return {
    acquire,
    async run<T>(task: () => Promise<T>): Promise<T> {
      const done = await acquire();
      try {
        return await task();
      } finally {
        done();
      }
    },
    /** Holders and waiters right now (metrics, tests). */
    get load() {
      return { active, waiting: waiting.length, weight };
    },
  };
}
