import { describe, expect, it } from 'vitest';
import { QueueFull, semaphore } from '../src/lib/semaphore.js';

const tick = () => new Promise((r) => setImmediate(r));

/** A task the test finishes by hand. */
function gate() {
  let open!: () => void;
  let fail!: (e: Error) => void;
  const done = new Promise<void>((resolve, reject) => {
    open = resolve;
    fail = reject;
  });
  return { done, open, fail };
}

describe('semaphore', () => {
  it('runs at most `limit` tasks at once and starts the waiting ones in arrival order', async () => {
    const s = semaphore(2);
    const gates = Array.from({ length: 5 }, gate);
    const started: number[] = [];
    const runs = gates.map((g, i) => s.run(async () => {
      started.push(i);
      await g.done;
      return i;
    }));
    await tick();
    expect(started).toEqual([0, 1]);
    expect(s.load).toEqual({ active: 2, waiting: 3, weight: 0 });
    gates[1]!.open();
    await tick();
    expect(started).toEqual([0, 1, 2]);
    gates[0]!.open();
    gates[2]!.open();
    await tick();
    expect(started).toEqual([0, 1, 2, 3, 4]);
    gates[3]!.open();
    gates[4]!.open();
    expect(await Promise.all(runs)).toEqual([0, 1, 2, 3, 4]);
    expect(s.load).toEqual({ active: 0, waiting: 0, weight: 0 });
  });

  it('frees the slot when a task fails', async () => {
    const s = semaphore(1);
    const g = gate();
    const failing = s.run(() => g.done);
    const next = s.run(async () => 'ran');
    g.fail(new Error('boom'));
    await expect(failing).rejects.toThrow('boom');
    expect(await next).toBe('ran');
    expect(s.load).toEqual({ active: 0, waiting: 0, weight: 0 });
  });

  it('lets at most `maxWaiting` wait and refuses the next at once', async () => {
    const s = semaphore(1, 2);
    const g = gate();
    const runs = [s.run(() => g.done), s.run(async () => 'b'), s.run(async () => 'c')];
    await tick();
    expect(s.load).toEqual({ active: 1, waiting: 2, weight: 0 });
    await expect(s.acquire()).rejects.toBeInstanceOf(QueueFull);
    g.open();
    expect(await Promise.all(runs)).toEqual([undefined, 'b', 'c']);
    expect(s.load).toEqual({ active: 0, waiting: 0, weight: 0 });
  });

  it('takes a waiter that gives up out of the queue; a release is counted once', async () => {
    const s = semaphore(1, 1);
    const first = await s.acquire();
    const gone = new AbortController();
    const waiter = s.acquire(gone.signal);
    await tick();
    expect(s.load).toEqual({ active: 1, waiting: 1, weight: 0 });
    gone.abort(new Error('client left'));
    await expect(waiter).rejects.toThrow('client left');
    expect(s.load).toEqual({ active: 1, waiting: 0, weight: 0 });
    first();
    first();
    expect(s.load).toEqual({ active: 0, waiting: 0, weight: 0 });
  });

  it('admits by weight too: a holder alone always, others while the total fits, in arrival order', async () => {
    const s = semaphore(3, 10, 10);
    const big = await s.acquire(undefined, 9);
    const small = s.acquire(undefined, 1); // fits beside it
    expect(s.load).toEqual({ active: 2, waiting: 0, weight: 10 });
    await small;
    const huge = s.acquire(undefined, 50); // waits: too heavy beside others
    const after = s.acquire(undefined, 0); // waits behind it (FIFO), though it would fit
    await tick();
    expect(s.load).toEqual({ active: 2, waiting: 2, weight: 10 });
    big();
    (await small)();
    (await huge)(); // alone now: let in whatever its weight; then the next one
    (await after)();
    expect(s.load).toEqual({ active: 0, waiting: 0, weight: 0 });
  });
});
