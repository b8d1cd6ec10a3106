import { and, eq, gt } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { balances, ledgerEntries, outbox, payments, stripeEvents } from '../src/db/schema/index.js';
import { createTestContext, type TestContext, type TestResponse } from './support/context.js';
import { attachKey, makeUser, payload, uniq } from './support/factories.js';
import { portalLoginWithKey, type PortalClient } from './support/portal.js';
import { startStripeFake, stripeEnv, type StripeFake } from './support/stripe-fake.js';

const PUBLIC_URL = 'https://credits.example.com';
let ctx: TestContext;
let stripe: StripeFake;

beforeAll(async () => {
  stripe = await startStripeFake();
  ctx = await createTestContext({ env: { ...stripeEnv(stripe), PUBLIC_URL, TRUST_PROXY: 'true' } });
});
afterAll(async () => {
  await ctx?.close();
  await stripe?.close();
});

const sendEvent = async (evt: unknown, o: { header?: string; secret?: string } = {}): Promise<TestResponse> => {
  const signed = stripe.sign(evt, o.secret);
  return ctx.app.request('/webhooks/stripe', {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'stripe-signature': o.header ?? signed.header },
    body: signed.payload,
  });
};

async function pack(tokens = 500_000, priceMinor = 2990, currency = 'BRL') {
  const res = await ctx.api('POST', '/api/packs', { name: `Pack ${uniq()}`, tokens, priceMinor, currency });
  expect(res.status).toBe(201);
  return (await res.json()) as { id: string; tokens: number; priceMinor: number; currency: string };
}

async function buyer(plan?: string): Promise<{ id: string; client: PortalClient; keyId: string }> {
  const u = await makeUser(ctx, { plan });
  const { plaintext } = await attachKey(ctx, u.id);
  return { id: u.id, client: await portalLoginWithKey(ctx, plaintext), keyId: u.key!.id };
}

async function checkout(client: PortalClient, packId: string): Promise<string> {
  const res = await client.call('POST', '/api/portal/checkout', { packId });
  expect(res.status).toBe(200);
  const body = await res.json();
  const sessionId = /\/(cs_test_\w+)/.exec(body.url)![1]!;
  return sessionId;
}

const balanceOf = async (userId: string) => (await ctx.deps.db.select().from(balances).where(eq(balances.userId, userId)))[0]!;
const paymentOf = async (sessionId: string) => (await ctx.deps.db.select().from(payments).where(eq(payments.checkoutSessionId, sessionId)))[0]!;

describe('credit packs (admin)', () => {
  it('creates, edits and lists packs; the portal lists only active ones', async () => {
    const p = await pack(100_000, 990, 'BRL');
    expect(p).toMatchObject({ tokens: 100_000, priceMinor: 990, currency: 'brl' });
    const patched = await ctx.api('PATCH', `/api/packs/${p.id}`, { priceMinor: 1090, active: false });
    expect(await patched.json()).toMatchObject({ priceMinor: 1090, active: false });
    expect((await ctx.api('POST', '/api/packs', { name: 'x', tokens: 1, priceMinor: 1, currency: 'reais' })).status).toBe(400);
    expect((await ctx.api('POST', '/api/packs', { name: 'x', tokens: 1, priceMinor: 1.5, currency: 'brl' })).status).toBe(400);
    const all = await (await ctx.api('GET', '/api/packs')).json();
    expect(all.items.map((i: { id: string }) => i.id)).toContain(p.id);
    const b = await buyer();
    const forSale = await (await b.client.call('GET', '/api/portal/packs')).json();
    expect(forSale.paymentsEnabled).toBe(true);
    expect(forSale.items.map((i: { id: string }) => i.id)).not.toContain(p.id);
    expect((await b.client.call('POST', '/api/portal/checkout', { packId: p.id })).status).toBe(404);
  });
});

describe('checkout', () => {
  it('creates a Stripe Checkout session for the person and records a pending payment', async () => {
    const p = await pack();
    const b = await buyer();
    const res = await b.client.call('POST', '/api/portal/checkout', { packId: p.id });
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body.url).toMatch(/^https:\/\/checkout\.stripe\.com\/c\/pay\/cs_test_/);
    const req = stripe.requests.at(-1)!;
    expect(req.path).toBe('POST /v1/checkout/sessions');
    expect(req.idempotencyKey).toBe(body.paymentId);
    expect(Object.fromEntries(req.form)).toMatchObject({
      mode: 'payment',
      client_reference_id: b.id,
      'metadata[pack_id]': p.id,
      'metadata[person_id]': b.id,
      'line_items[0][price_data][unit_amount]': '2990',
      'line_items[0][price_data][currency]': 'brl',
      'line_items[0][quantity]': '1',
      success_url: `${PUBLIC_URL}/me?checkout=success&session_id={CHECKOUT_SESSION_ID}`,
      cancel_url: `${PUBLIC_URL}/me?checkout=cancel`,
    });
    const sessionId = /\/(cs_test_\w+)/.exec(body.url)![1]!;
    expect(await paymentOf(sessionId)).toMatchObject({ id: body.paymentId, userId: b.id, status: 'pending', amountMinor: 2990, currency: 'brl', tokensMilli: 500_000_000 });
  });
});

describe('the Stripe webhook', () => {
  it('refuses a wrong or missing signature with 400 and books nothing', async () => {
    const p = await pack();
    const b = await buyer();
    const sessionId = await checkout(b.client, p.id);
    const evt = stripe.completedEvent(sessionId);
    const before = await balanceOf(b.id);
    expect((await sendEvent(evt, { secret: 'whsec_not_the_secret_at_all' })).status).toBe(400);
    expect((await sendEvent(evt, { header: 't=1,v1=deadbeef' })).status).toBe(400);
    const noHeader: TestResponse = await ctx.app.request('/webhooks/stripe', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(evt) });
    expect(noHeader.status).toBe(400);
    expect((await noHeader.json()).error.code).toBe('validation_error');
    // A body altered after signing
    const signed = stripe.sign(evt);
    const tampered = await ctx.app.request('/webhooks/stripe', {
      method: 'POST',
      headers: { 'stripe-signature': signed.header },
      body: signed.payload.replace('"paid"', '"paid" '),
    });
    expect(tampered.status).toBe(400);
    expect(await balanceOf(b.id)).toEqual(before);
    expect(await ctx.deps.db.select().from(stripeEvents).where(eq(stripeEvents.id, evt.id))).toHaveLength(0);
    expect((await paymentOf(sessionId)).status).toBe('pending');
  });

  it('books the same event delivered 5 times (concurrently and again) exactly once', async () => {
    const p = await pack(500_000, 2990);
    const b = await buyer();
    const sessionId = await checkout(b.client, p.id);
    const evt = stripe.completedEvent(sessionId);
    const first = await Promise.all([1, 2, 3].map(() => sendEvent(evt)));
    const later = [await sendEvent(evt), await sendEvent(evt)];
    const bodies = await Promise.all([...first, ...later].map(async (r) => ({ status: r.status, body: await r.json() })));
    expect(bodies.every((r) => r.status === 200)).toBe(true);
    expect(bodies.filter((r) => r.body.outcome === 'credited')).toHaveLength(1);
    expect(bodies.filter((r) => r.body.duplicate)).toHaveLength(4);
    // Another event id for the same session (e.g. async_payment_succeeded) books nothing more.
    const other = await sendEvent(stripe.completedEvent(sessionId));
    expect((await other.json()).outcome).toBe('already_booked');

    const bal = await balanceOf(b.id);
    expect(bal.topupMilli).toBe(500_000_000);
    expect(bal.monthlyMilli).toBe(1_000_000_000);
    const topups = await ctx.deps.db.select().from(ledgerEntries).where(and(eq(ledgerEntries.userId, b.id), eq(ledgerEntries.kind, 'topup')));
    expect(topups).toHaveLength(1);
    expect(topups[0]).toMatchObject({ amountMilli: 500_000_000, actor: 'stripe', reason: `Stripe checkout ${sessionId} (${(await paymentOf(sessionId)).packName})` });
    const pay = await paymentOf(sessionId);
    expect(pay).toMatchObject({ status: 'paid', amountMinor: 2990, paymentIntentId: expect.stringMatching(/^pi_test_/) });
    const me = await (await b.client.call('GET', '/api/portal/me')).json();
    expect(me.balance).toMatchObject({ credits: 1_500_000, monthlyRemaining: 1_000_000, topupRemaining: 500_000 });
    const mine = await (await b.client.call('GET', '/api/portal/payments')).json();
    expect(mine.items).toEqual([expect.objectContaining({ status: 'paid', tokens: 500_000, amountMinor: 2990, currency: 'brl' })]);
  });

  it('ignores a completed session that is not paid yet, then books it when paid', async () => {
    const p = await pack(200_000, 1000);
    const b = await buyer();
    const sessionId = await checkout(b.client, p.id);
    const unpaid = await sendEvent(stripe.completedEvent(sessionId, { paymentStatus: 'unpaid' }));
    expect((await unpaid.json()).outcome).toBe('awaiting_payment');
    expect((await balanceOf(b.id)).topupMilli).toBe(0);
    const paid = await sendEvent(stripe.completedEvent(sessionId));
    expect((await paid.json()).outcome).toBe('credited');
    expect((await balanceOf(b.id)).topupMilli).toBe(200_000_000);
  });

  it('a refund books a proportional correction; replays change nothing', async () => {
    const p = await pack(500_000, 2990);
    const b = await buyer();
    const sessionId = await checkout(b.client, p.id);
    await sendEvent(stripe.completedEvent(sessionId));
    const half = stripe.refundEvent(sessionId, 1495);
    expect((await (await sendEvent(half)).json()).outcome).toBe('refunded');
    expect((await sendEvent(half)).status).toBe(200);
    expect((await balanceOf(b.id)).topupMilli).toBe(250_000_000);
    expect(await paymentOf(sessionId)).toMatchObject({ status: 'partially_refunded', refundedMinor: 1495, refundedMilli: 250_000_000, shortfallMilli: 0 });
    // The rest (cumulative amount_refunded), as a new event for the same charge
    expect((await (await sendEvent(stripe.refundEvent(sessionId, 2990))).json()).outcome).toBe('refunded');
    expect((await (await sendEvent(stripe.refundEvent(sessionId, 2990))).json()).outcome).toBe('already_refunded');
    const bal = await balanceOf(b.id);
    expect(bal.topupMilli).toBe(0);
    expect(bal.monthlyMilli).toBe(1_000_000_000);
    const corrections = await ctx.deps.db.select().from(ledgerEntries).where(and(eq(ledgerEntries.userId, b.id), eq(ledgerEntries.kind, 'correction')));
    expect(corrections.map((c) => c.amountMilli)).toEqual([-250_000_000, -250_000_000]);
    expect(await paymentOf(sessionId)).toMatchObject({ status: 'refunded', refundedMinor: 2990, refundedMilli: 500_000_000, shortfallMilli: 0 });
  });

  it('a refund of tokens already used takes back what is left and records the shortfall', async () => {
    const plan = await (await ctx.api('POST', '/api/plans', { slug: `zero-${uniq()}`, name: 'Pay as you go', monthlyCredits: 0 })).json();
    const p = await pack(500_000, 2990);
    const u = await makeUser(ctx, { plan: plan.slug });
    const { plaintext, hash } = await attachKey(ctx, u.id);
    const client = await portalLoginWithKey(ctx, plaintext);
    const sessionId = await checkout(client, p.id);
    await sendEvent(stripe.completedEvent(sessionId));
    // 0.1504 USD at f = 0.376 = 400,000 credits, from the top-up bucket
    expect((await ctx.webhook([payload(hash, 0.1504)])).status).toBe(200);
    expect((await balanceOf(u.id)).topupMilli).toBe(100_000_000);
    const res = await sendEvent(stripe.refundEvent(sessionId, 2990));
    expect(res.status).toBe(200);
    expect((await res.json()).outcome).toBe('refunded_with_shortfall');
    expect((await balanceOf(u.id)).topupMilli).toBe(0);
    const pay = await paymentOf(sessionId);
    expect(pay).toMatchObject({ status: 'refunded', refundedMilli: 500_000_000, shortfallMilli: 400_000_000 });
    const list = await (await ctx.api('GET', `/api/payments?userId=${u.id}`)).json();
    expect(list.items[0]).toMatchObject({ status: 'refunded', shortfallTokens: 400_000, refundedTokens: 500_000, email: u.email, note: expect.stringContaining('shortfall') });
  });

  it('unblocks a person at 100% who buys, and queues the new budget for LiteLLM', async () => {
    const plan = await (await ctx.api('POST', '/api/plans', { slug: `tiny-${uniq()}`, name: 'Tiny', monthlyCredits: 100_000 })).json();
    const p = await pack(500_000, 2990);
    const u = await makeUser(ctx, { plan: plan.slug });
    const { plaintext, hash } = await attachKey(ctx, u.id);
    expect((await ctx.webhook([payload(hash, 0.0376)])).status).toBe(200); // 100,000 credits
    const client = await portalLoginWithKey(ctx, plaintext);
    const blocked = await (await client.call('GET', '/api/portal/me')).json();
    expect(blocked.balance).toMatchObject({ state: 'blocked', percentUsed: 100 });
    expect(blocked.paymentsEnabled).toBe(true);
    const [{ maxId }] = (await ctx.deps.db.select({ maxId: outbox.id }).from(outbox).orderBy(outbox.id)).slice(-1) as [{ maxId: number }];
    const sessionId = await checkout(client, p.id);
    expect((await sendEvent(stripe.completedEvent(sessionId))).status).toBe(200);
    const after = await (await ctx.api('GET', `/api/users/${u.id}`)).json();
    expect(after.balance).toMatchObject({ state: 'active', credits: 500_000, topupRemaining: 500_000, monthlyRemaining: 0 });
    const queued = await ctx.deps.db.select().from(outbox).where(and(eq(outbox.kind, 'litellm.sync_budget'), eq(outbox.aggregate, u.key!.id), gt(outbox.id, maxId)));
    expect(queued).toHaveLength(1);
    // the 100% alert is re-armed
    const alerts = await (await client.call('GET', '/api/portal/alerts')).json();
    expect(alerts.items.find((a: { threshold: number }) => a.threshold === 100).rearmedAt).toEqual(expect.any(String));
  });

  it('shows payments and revenue this period to admins', async () => {
    const res = await ctx.api('GET', '/api/payments/summary');
    expect(res.status).toBe(200);
    const s = await res.json();
    expect(s.paymentsEnabled).toBe(true);
    const brl = s.revenue.find((r: { currency: string }) => r.currency === 'brl');
    const paid = (await ctx.deps.db.select().from(payments)).filter((p) => p.paidAt);
    expect(brl).toEqual({
      currency: 'brl',
      payments: paid.length,
      paidMinor: paid.reduce((n, p) => n + p.amountMinor, 0),
      refundedMinor: paid.reduce((n, p) => n + p.refundedMinor, 0),
      netMinor: paid.reduce((n, p) => n + p.amountMinor - p.refundedMinor, 0),
    });
    const list = await (await ctx.api('GET', '/api/payments?status=pending')).json();
    expect(list.items.every((p: { status: string }) => p.status === 'pending')).toBe(true);
  });
});

describe('without Stripe keys', () => {
  let plain: TestContext;
  beforeAll(async () => {
    plain = await createTestContext({ env: { TRUST_PROXY: 'true' } });
  });
  afterAll(() => plain?.close());

  it('hides buying and refuses checkout and webhooks; nothing else changes', async () => {
    const u = await makeUser(plain);
    const { plaintext } = await attachKey(plain, u.id);
    const client = await portalLoginWithKey(plain, plaintext);
    expect(await (await client.call('GET', '/api/portal/packs')).json()).toEqual({ paymentsEnabled: false, items: [] });
    expect((await (await client.call('GET', '/api/portal/me')).json()).paymentsEnabled).toBe(false);
    const res = await client.call('POST', '/api/portal/checkout', { packId: 'pck_x' });
    expect(res.status).toBe(503);
    const hook = await plain.app.request('/webhooks/stripe', { method: 'POST', body: '{}' });
    expect(hook.status).toBe(503);
    expect((await (await plain.api('GET', '/api/payments/summary')).json()).paymentsEnabled).toBe(false);
  });
});
