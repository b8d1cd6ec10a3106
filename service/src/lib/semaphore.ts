/**
 * At most `limit` holders at once; the others wait in arrival order (FIFO, so no request waits
 * forever behind later ones). `run` releases on success and on error.
 */
export function semaphore(limit: number) {
  let active = 0;
  const waiting: (() => void)[] = [];
  const release = () => {
    const next = waiting.shift();
    if (next) next(); // the slot passes straight to the next in line
    else active--;
  };
  return {
    async run<T>(task: () => Promise<T>): Promise<T> {
      if (active < limit) active++;
      else await new Promise<void>((resolve) => waiting.push(resolve));
      try {
        return await task();
      } finally {
        release();
      }
    },
    /** Holders and waiters right now (metrics, tests). */
    get load() {
      return { active, waiting: waiting.length };
    },
  };
}
