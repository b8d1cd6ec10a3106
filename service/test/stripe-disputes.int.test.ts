import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { balances, ledgerEntries, payments } from '../src/db/schema/index.js';
import { createTestContext, type TestContext, type TestResponse } from './support/context.js';
import { attachKey, makeUser, payload, uniq } from './support/factories.js';
import { portalLoginWithKey, type PortalClient } from './support/portal.js';
import { startStripeFake, stripeEnv, type StripeFake } from './support/stripe-fake.js';

/** Issue 14, hole 7: amounts checked against the pack, async failures, disputes and their reversal. */
let ctx: TestContext;
let stripe: StripeFake;

beforeAll(async () => {
  stripe = await startStripeFake();
  ctx = await createTestContext({ env: { ...stripeEnv(stripe), PUBLIC_URL: 'https://credits.example.com', TRUST_PROXY: 'true' } });
});
afterAll(async () => {
  await ctx?.close();
  await stripe?.close();
});

const send = async (evt: unknown): Promise<{ status: number; outcome: string }> => {
  const signed = stripe.sign(evt);
  const res: TestResponse = await ctx.app.request('/webhooks/stripe', {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'stripe-signature': signed.header },
    body: signed.payload,
  });
  return { status: res.status, outcome: (await res.json()).outcome };
};

async function purchase(o: { tokens?: number; priceMinor?: number; currency?: string; plan?: string } = {}) {
  const pack = await (await ctx.api('POST', '/api/packs', { name: `Pack ${uniq()}`, tokens: o.tokens ?? 500_000, priceMinor: o.priceMinor ?? 2990, currency: o.currency ?? 'brl' })).json();
  const u = await makeUser(ctx, { plan: o.plan });
  const { plaintext, hash } = await attachKey(ctx, u.id);
  const client: PortalClient = await portalLoginWithKey(ctx, plaintext);
  const res = await client.call('POST', '/api/portal/checkout', { packId: pack.id });
  expect(res.status).toBe(200);
  const sessionId = /\/(cs_test_\w+)/.exec((await res.json()).url)![1]!;
  return { userId: u.id, client, sessionId, hash };
}

const topupOf = async (userId: string) => (await ctx.deps.db.select().from(balances).where(eq(balances.userId, userId)))[0]!.topupMilli;
const paymentOf = async (sessionId: string) => (await ctx.deps.db.select().from(payments).where(eq(payments.checkoutSessionId, sessionId)))[0]!;
const corrections = async (userId: string) =>
  (await ctx.deps.db.select().from(ledgerEntries).where(and(eq(ledgerEntries.userId, userId), eq(ledgerEntries.kind, 'correction'))).orderBy(ledgerEntries.id)).map((e) => ({
    amountMilli: e.amountMilli,
    reasonCode: e.reasonCode,
  }));

describe('checkout.session.completed is checked against the pack', () => {
  it('an amount below the price credits nothing; the payment waits for review', async () => {
    const p = await purchase({ priceMinor: 2990 });
    expect(await send(stripe.completedEvent(p.sessionId, { amountTotal: 1 }))).toEqual({ status: 200, outcome: 'amount_mismatch' });
    expect(await topupOf(p.userId)).toBe(0);
    expect(await paymentOf(p.sessionId)).toMatchObject({ status: 'needs_review', amountMinor: 2990, currency: 'brl', paidAt: null, note: expect.stringContaining('1 brl') });
    // A later correct-looking event for the same session books nothing either (an admin decides).
    expect((await send(stripe.completedEvent(p.sessionId))).outcome).toBe('already_booked');
    expect(await topupOf(p.userId)).toBe(0);
    const audit = await (await ctx.api('GET', `/api/audit?action=payment.amount_mismatch`)).json();
    expect(audit.items[0]).toMatchObject({ actor: 'stripe', after: { amountTotal: 1, currency: 'brl', expectedMinor: 2990, expectedCurrency: 'brl' } });
  });

  it('another currency with the same number credits nothing', async () => {
    const p = await purchase({ priceMinor: 2990, currency: 'brl' });
    expect((await send(stripe.completedEvent(p.sessionId, { currency: 'usd' }))).outcome).toBe('amount_mismatch');
    expect(await topupOf(p.userId)).toBe(0);
  });

  it('the exact price (currency in any case) credits the pack', async () => {
    const p = await purchase({ tokens: 200_000, priceMinor: 990 });
    expect((await send(stripe.completedEvent(p.sessionId, { currency: 'BRL' }))).outcome).toBe('credited');
    expect(await topupOf(p.userId)).toBe(200_000_000);
  });
});

describe('checkout.session.async_payment_failed', () => {
  it('marks the payment failed and books nothing; a late success event for it books nothing', async () => {
    const p = await purchase();
    expect(await send(stripe.completedEvent(p.sessionId, { paymentStatus: 'unpaid' }))).toEqual({ status: 200, outcome: 'awaiting_payment' });
    expect(await send(stripe.asyncFailedEvent(p.sessionId))).toEqual({ status: 200, outcome: 'payment_failed' });
    expect(await paymentOf(p.sessionId)).toMatchObject({ status: 'failed', paidAt: null });
    expect(await topupOf(p.userId)).toBe(0);
    expect((await send(stripe.completedEvent(p.sessionId))).outcome).toBe('already_booked');
    const mine = await (await p.client.call('GET', '/api/portal/payments')).json();
    expect(mine.items.map((i: { status: string }) => i.status)).toEqual(['failed']);
  });
});

describe('disputes (chargebacks)', () => {
  it('a dispute takes the tokens back as a correction; winning it gives them back once; both are in the statement', async () => {
    const p = await purchase({ tokens: 500_000, priceMinor: 2990 });
    expect((await send(stripe.completedEvent(p.sessionId))).outcome).toBe('credited');
    const created = stripe.disputeEvent(p.sessionId, 'charge.dispute.created');
    expect(await send(created)).toEqual({ status: 200, outcome: 'disputed' });
    expect((await send(created)).outcome).toBe('duplicate');
    expect(await topupOf(p.userId)).toBe(0);
    expect(await paymentOf(p.sessionId)).toMatchObject({ status: 'disputed', disputeStatus: 'open', disputedMilli: 500_000_000, disputeShortfallMilli: 0 });
    // Funds reinstated and then closed as won: one reversal.
    expect((await send(stripe.disputeEvent(p.sessionId, 'charge.dispute.funds_reinstated'))).outcome).toBe('dispute_reversed');
    expect((await send(stripe.disputeEvent(p.sessionId, 'charge.dispute.closed', { status: 'won' }))).outcome).toBe('already_closed');
    expect(await topupOf(p.userId)).toBe(500_000_000);
    expect(await paymentOf(p.sessionId)).toMatchObject({ status: 'paid', disputeStatus: 'won', shortfallMilli: 0 });
    expect(await corrections(p.userId)).toEqual([
      { amountMilli: -500_000_000, reasonCode: 'stripe.dispute' },
      { amountMilli: 500_000_000, reasonCode: 'stripe.dispute_reversed' },
    ]);
    const statement = await (await p.client.call('GET', '/api/portal/ledger')).json();
    expect(statement.items.slice(0, 3).map((e: { kind: string; amount: number; reasonCode: string | null }) => [e.kind, e.amount, e.reasonCode])).toEqual([
      ['correction', 500_000, 'stripe.dispute_reversed'],
      ['correction', -500_000, 'stripe.dispute'],
      ['topup', 500_000, 'stripe.topup'],
    ]);
  });

  it('a lost dispute keeps the tokens taken back', async () => {
    const p = await purchase({ tokens: 100_000, priceMinor: 1000 });
    await send(stripe.completedEvent(p.sessionId));
    expect((await send(stripe.disputeEvent(p.sessionId, 'charge.dispute.created'))).outcome).toBe('disputed');
    expect((await send(stripe.disputeEvent(p.sessionId, 'charge.dispute.closed', { status: 'lost' }))).outcome).toBe('dispute_lost');
    expect((await send(stripe.disputeEvent(p.sessionId, 'charge.dispute.funds_reinstated'))).outcome).toBe('already_closed');
    expect(await topupOf(p.userId)).toBe(0);
    expect(await paymentOf(p.sessionId)).toMatchObject({ status: 'disputed', disputeStatus: 'lost' });
    expect((await corrections(p.userId)).map((c) => c.amountMilli)).toEqual([-100_000_000]);
  });

  it('a dispute of tokens already used takes back what is left and records the shortfall; winning gives back only what was taken', async () => {
    const plan = await (await ctx.api('POST', '/api/plans', { slug: `zero-${uniq()}`, name: 'Pay as you go', monthlyCredits: 0 })).json();
    const p = await purchase({ tokens: 500_000, priceMinor: 2990, plan: plan.slug });
    await send(stripe.completedEvent(p.sessionId));
    expect((await ctx.webhook([payload(p.hash, 0.1504)])).status).toBe(200); // 400,000 credits used
    expect(await topupOf(p.userId)).toBe(100_000_000);
    expect((await send(stripe.disputeEvent(p.sessionId, 'charge.dispute.created'))).outcome).toBe('disputed_with_shortfall');
    expect(await topupOf(p.userId)).toBe(0);
    expect(await paymentOf(p.sessionId)).toMatchObject({ disputedMilli: 100_000_000, disputeShortfallMilli: 400_000_000, shortfallMilli: 400_000_000 });
    expect((await send(stripe.disputeEvent(p.sessionId, 'charge.dispute.closed', { status: 'won' }))).outcome).toBe('dispute_reversed');
    expect(await topupOf(p.userId)).toBe(100_000_000);
    expect(await paymentOf(p.sessionId)).toMatchObject({ status: 'paid', shortfallMilli: 0 });
  });

  it('a dispute of a partial amount takes back the matching share', async () => {
    const p = await purchase({ tokens: 500_000, priceMinor: 2990 });
    await send(stripe.completedEvent(p.sessionId));
    expect((await send(stripe.disputeEvent(p.sessionId, 'charge.dispute.created', { amount: 1495 }))).outcome).toBe('disputed');
    expect(await topupOf(p.userId)).toBe(250_000_000);
  });

  it('a dispute for a charge we do not know is acknowledged and books nothing', async () => {
    const p = await purchase();
    stripe.sessions.get(p.sessionId)!.payment_intent = 'pi_test_unknown';
    expect(await send(stripe.disputeEvent(p.sessionId, 'charge.dispute.created'))).toEqual({ status: 200, outcome: 'unknown_charge' });
  });
});
