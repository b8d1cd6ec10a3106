import { eq, sql } from 'drizzle-orm';
import type { Deps } from '../../deps.js';
import { one, type Queryable } from '../../db/client.js';
import { creditPacks, payments, stripeEvents, users, type Payment } from '../../db/schema/index.js';
import { newId } from '../../lib/ids.js';
import type { Stripe } from '../../lib/stripe.js';
import type { Actor, RequestMeta } from '../actor.js';
import { audit } from '../audit.js';
import { bookCredits } from '../credits.js';

/** Bookings made by the Stripe webhook are attributed to this actor in the ledger and audit log. */
export const STRIPE_ACTOR: Actor = { id: 'stripe', label: 'stripe', role: 'admin', via: 'system' };

export interface WebhookOutcome {
  duplicate: boolean;
  outcome: string;
}

/**
 * Process one verified Stripe event exactly once: its id is claimed with a unique row in the same
 * transaction as the booking, so a replay (or five concurrent deliveries) finds the row and does
 * nothing. Anything that throws rolls the claim back and Stripe retries.
 */
export async function handleStripeEvent(deps: Deps, meta: RequestMeta, event: Stripe.Event): Promise<WebhookOutcome> {
  return deps.db.transaction(async (tx) => {
    const [claimed] = await tx
      .insert(stripeEvents)
      .values({ id: event.id, type: event.type, outcome: 'processing', receivedAt: deps.clock.now() })
      .onConflictDoNothing()
      .returning({ id: stripeEvents.id });
    if (!claimed) return { duplicate: true, outcome: 'duplicate' };
    let outcome: string;
    switch (event.type) {
      case 'checkout.session.completed':
      case 'checkout.session.async_payment_succeeded':
        outcome = await completeCheckout(tx, deps, meta, event.data.object);
        break;
      case 'checkout.session.expired':
        outcome = await expireCheckout(tx, deps, event.data.object);
        break;
      case 'charge.refunded':
        outcome = await refundCharge(tx, deps, meta, event.data.object);
        break;
      default:
        outcome = 'ignored';
    }
    await tx.update(stripeEvents).set({ outcome }).where(eq(stripeEvents.id, event.id));
    return { duplicate: false, outcome };
  });
}

const idOf = (v: string | { id: string } | null | undefined) => (typeof v === 'string' ? v : (v?.id ?? null));

async function paymentForSession(tx: Queryable, deps: Deps, session: Stripe.Checkout.Session): Promise<Payment | null> {
  const [p] = await tx.select().from(payments).where(eq(payments.checkoutSessionId, session.id)).for('update');
  if (p) return p;
  // A session our checkout did not record (the row insert failed after Stripe answered): rebuild
  // it from the metadata we sent, with the pack as it is now.
  const userId = session.metadata?.person_id ?? session.client_reference_id;
  const packId = session.metadata?.pack_id;
  if (!userId || !packId) return null;
  const [pack] = await tx.select().from(creditPacks).where(eq(creditPacks.id, packId));
  const [user] = await tx.select({ id: users.id }).from(users).where(eq(users.id, userId));
  if (!pack || !user) return null;
  const now = deps.clock.now();
  const [created] = await tx
    .insert(payments)
    .values({
      id: session.metadata?.payment_id ?? newId('pay'),
      userId,
      packId,
      packName: pack.name,
      tokensMilli: pack.tokensMilli,
      amountMinor: session.amount_total ?? pack.priceMinor,
      currency: session.currency ?? pack.currency,
      checkoutSessionId: session.id,
      createdAt: now,
      updatedAt: now,
    })
    .returning();
  return created ?? null;
}

/** A paid checkout books the pack's tokens as a top-up through the normal ledger path. */
async function completeCheckout(tx: Queryable, deps: Deps, meta: RequestMeta, session: Stripe.Checkout.Session): Promise<string> {
  if (session.payment_status !== 'paid') return 'awaiting_payment';
  const payment = await paymentForSession(tx, deps, session);
  if (!payment) {
    deps.log.warn({ sessionId: session.id }, 'stripe checkout for an unknown session ignored');
    return 'unknown_session';
  }
  if (payment.status !== 'pending' && payment.status !== 'expired') return 'already_booked';
  const now = deps.clock.now();
  const [user] = await tx.select({ status: users.status }).from(users).where(eq(users.id, payment.userId));
  let note: string | null = null;
  if (user?.status === 'deleted') {
    note = 'paid after the person was deleted: not credited; refund it in Stripe';
    deps.log.warn({ paymentId: payment.id }, note);
  } else {
    await bookCredits(tx, deps, STRIPE_ACTOR, meta, {
      userId: payment.userId,
      amountMilli: payment.tokensMilli,
      reason: `Stripe checkout ${session.id} (${payment.packName})`,
      idempotencyKey: `stripe:${session.id}`,
      kind: 'topup',
    });
  }
  await tx
    .update(payments)
    .set({
      status: 'paid',
      paymentIntentId: idOf(session.payment_intent),
      amountMinor: session.amount_total ?? payment.amountMinor,
      currency: session.currency ?? payment.currency,
      paidAt: now,
      updatedAt: now,
      note,
    })
    .where(eq(payments.id, payment.id));
  return note ? 'paid_not_credited' : 'credited';
}

async function expireCheckout(tx: Queryable, deps: Deps, session: Stripe.Checkout.Session): Promise<string> {
  const updated = await tx
    .update(payments)
    .set({ status: 'expired', updatedAt: deps.clock.now() })
    .where(sql`${payments.checkoutSessionId} = ${session.id} and ${payments.status} = 'pending'`)
    .returning({ id: payments.id });
  return updated.length ? 'expired' : 'ignored';
}

/**
 * A refund takes back the share of the pack's tokens that matches the refunded share of the price
 * (charge.amount_refunded is cumulative), as a negative correction in the top-up bucket, capped by
 * what is left there. What cannot be taken back (already used) is recorded on the payment as a
 * shortfall for admins; the webhook never fails on it.
 */
async function refundCharge(tx: Queryable, deps: Deps, meta: RequestMeta, charge: Stripe.Charge): Promise<string> {
  const intent = idOf(charge.payment_intent);
  const [payment] = intent ? await tx.select().from(payments).where(eq(payments.paymentIntentId, intent)).for('update') : [];
  if (!payment) {
    deps.log.warn({ chargeId: charge.id }, 'stripe refund for an unknown payment ignored');
    return 'unknown_charge';
  }
  const refundedMinor = Math.min(charge.amount_refunded, payment.amountMinor);
  const targetMilli = payment.amountMinor > 0 ? Number((BigInt(payment.tokensMilli) * BigInt(refundedMinor)) / BigInt(payment.amountMinor)) : 0;
  const delta = targetMilli - payment.refundedMilli;
  if (delta <= 0) return 'already_refunded';
  const row = await one<{ topup_milli: string; status: string }>(
    tx,
    sql`select b.topup_milli, u.status from balances b join users u on u.id = b.user_id where b.user_id = ${payment.userId} for update of b`,
  );
  const available = row && row.status !== 'deleted' ? Math.max(0, Number(row.topup_milli)) : 0;
  const take = Math.min(delta, available);
  if (take > 0) {
    await bookCredits(tx, deps, STRIPE_ACTOR, meta, {
      userId: payment.userId,
      amountMilli: -take,
      reason: `Stripe refund ${charge.id} of checkout ${payment.checkoutSessionId ?? payment.id}`,
      idempotencyKey: `stripe:refund:${charge.id}:${charge.amount_refunded}`,
      kind: 'correction',
    });
  }
  const shortfall = delta - take;
  const now = deps.clock.now();
  await tx
    .update(payments)
    .set({
      status: refundedMinor >= payment.amountMinor ? 'refunded' : 'partially_refunded',
      refundedMinor,
      refundedMilli: targetMilli,
      shortfallMilli: payment.shortfallMilli + shortfall,
      refundedAt: now,
      updatedAt: now,
      ...(shortfall > 0 ? { note: 'refund larger than the unused top-up: the shortfall was already used and could not be taken back' } : {}),
    })
    .where(eq(payments.id, payment.id));
  if (shortfall > 0) {
    deps.log.warn({ paymentId: payment.id, shortfallMilli: shortfall }, 'refund could not take back all tokens');
    await audit(tx, STRIPE_ACTOR, meta, { action: 'payment.refund_shortfall', targetType: 'payment', targetId: payment.id, after: { shortfallMilli: shortfall } });
  }
  return shortfall > 0 ? 'refunded_with_shortfall' : 'refunded';
}
