/** Run `fn` over `items`, at most `n` at once; resolves when all are done (fn handles its own errors). */
export async function inFlight<T>(items: readonly T[], n: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(Math.max(1, n), items.length) }, async () => {
    while (next < items.length) await fn(items[next++]!);
  }));
}
