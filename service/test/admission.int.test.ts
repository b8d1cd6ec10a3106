import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestContext, WEBHOOK_SECRET, type TestContext } from './support/context.js';
import { attachKey, makeUser, payload } from './support/factories.js';

let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestContext({ env: { WEBHOOK_MAX_CONCURRENT: '1', WEBHOOK_MAX_QUEUED: '1' } });
});
afterAll(() => ctx.close());

/** A request body the test feeds by hand; `pulls` counts how often the service asked for more. */
function streamedBody(text: string) {
  let open!: () => void;
  const opened = new Promise<void>((r) => (open = r));
  const state = { pulls: 0, open };
  const bytes = new TextEncoder().encode(text);
  let sent = false;
  const stream = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        state.pulls++;
        await opened;
        if (!sent) {
          sent = true;
          controller.enqueue(bytes);
        } else controller.close();
      },
    },
    { highWaterMark: 0 },
  );
  return { stream, state };
}

const post = (body: ReadableStream<Uint8Array> | string) =>
  Promise.resolve(ctx.app.request('/webhooks/litellm', {
    method: 'POST',
    headers: { authorization: `Bearer ${WEBHOOK_SECRET}`, 'content-type': 'application/json' },
    body,
    duplex: 'half',
  }));
const tick = () => new Promise((r) => setTimeout(r, 20));

describe('webhook admission', () => {
  it('reads one batch at a time, lets one wait unread, and answers the next 503 overloaded with Retry-After, unread', async () => {
    const u = await makeUser(ctx, { plan: 'basic' });
    const { hash } = await attachKey(ctx, u.id);
    const a = streamedBody(JSON.stringify([payload(hash, 0.000376)]));
    const b = streamedBody(JSON.stringify([payload(hash, 0.000376)]));
    const c = streamedBody(JSON.stringify([payload(hash, 0.000376)]));
    const first = post(a.stream);
    await tick();
    expect(a.state.pulls).toBe(1); // being read: holds the slot
    const second = post(b.stream);
    await tick();
    const third = await post(c.stream);
    expect(third.status).toBe(503);
    expect(third.headers.get('retry-after')).toBe('2');
    expect(await third.json()).toEqual({
      error: { code: 'overloaded', message: '1 usage batches are being booked and 1 are waiting; retry later', requestId: expect.any(String) },
    });
    expect(b.state.pulls).toBe(0); // waiting with its body unread
    expect(c.state.pulls).toBe(0); // refused without reading it
    a.state.open();
    expect(await (await first).json()).toEqual({ accepted: 1, duplicate: 0, unattributed: 0, rejected: 0 });
    b.state.open();
    expect(await (await second).json()).toEqual({ accepted: 1, duplicate: 0, unattributed: 0, rejected: 0 });
    // the slot and the queue are free again
    expect((await post(JSON.stringify([payload(hash, 0.000376)]))).status).toBe(200);
  });
});
