/**
 * Sizes batched requests so each answers in about `targetMs`, from how long the last ones took
 * per item. A server that works through items one after another (LiteLLM's /key/bulk_update)
 * answers in time proportional to the batch, and a busy one more slowly still: a fixed batch size
 * that suits a fast proxy times out against a slow one, and one that suits a slow proxy leaves a
 * fast one idle.
 */
export interface PaceOptions {
  /** The time one request should take. */
  targetMs: number;
  /** Items in the first request, before anything was measured. */
  first: number;
  /** Items a request may carry at most. */
  max: number;
}

export class Pace {
  /** Smoothed milliseconds per item; undefined until a request was measured. */
  private msPerItem: number | undefined;

  constructor(private readonly opts: PaceOptions) {}

  /** Items for the next request, between 1 and `max`. */
  size(): number {
    if (this.msPerItem === undefined) return this.opts.first;
    return Math.max(1, Math.min(this.opts.max, Math.floor(this.opts.targetMs / this.msPerItem)));
  }

  /** A request of `items` answered after `ms`; a request that failed by timing out counts twice its time. */
  observe(items: number, ms: number, timedOut = false): void {
    if (items <= 0) return;
    const m = ((timedOut ? 2 : 1) * Math.max(ms, 0.01)) / items;
    this.msPerItem = this.msPerItem === undefined ? m : (this.msPerItem + m) / 2;
  }
}
