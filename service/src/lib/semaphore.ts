/** The wait queue is full: the caller should answer "busy, retry later". */
export class QueueFull extends Error {
  constructor() {
    super('the wait queue is full');
    this.name = 'QueueFull';
  }
}

/**
 * At most `limit` holders at once; the others wait in arrival order (FIFO, so no request waits
 * forever behind later ones), at most `maxWaiting` of them: beyond that `acquire` refuses at once
 * (QueueFull). A waiter can give up (`signal`), leaving the queue. `run` releases on success and
 * on error.
 */
export function semaphore(limit: number, maxWaiting = Infinity) {
  let active = 0;
  const waiting: (() => void)[] = [];
  const release = () => {
    const next = waiting.shift();
    if (next) next(); // the slot passes straight to the next in line
    else active--;
  };
  const once = (fn: () => void) => {
    let done = false;
    return () => {
      if (!done) (done = true), fn();
    };
  };
  /** A slot: resolves with its release function (call it once), or rejects with QueueFull / the abort reason. */
  async function acquire(signal?: AbortSignal): Promise<() => void> {
    if (active < limit) {
      active++;
      return once(release);
    }
    if (waiting.length >= maxWaiting) throw new QueueFull();
    signal?.throwIfAborted();
    await new Promise<void>((resolve, reject) => {
      const turn = () => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      const onAbort = () => {
        const i = waiting.indexOf(turn);
        if (i >= 0) waiting.splice(i, 1);
        reject(signal!.reason);
      };
      waiting.push(turn);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
    return once(release);
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
      return { active, waiting: waiting.length };
    },
  };
}
