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
      case 'checkout.session.async_payment_failed':
        outcome = await failCheckout(tx, deps, meta, event.data.object);
        break;
      case 'charge.refunded':
        outcome = await refundCharge(tx, deps, meta, event.data.object);
        break;
      case 'charge.dispute.created':
        outcome = await openDispute(tx, deps, meta, event.data.object);
        break;
      case 'charge.dispute.funds_reinstated':
        outcome = await closeDispute(tx, deps, meta, event.data.object, 'won');
        break;
      case 'charge.dispute.closed': {
        const d = event.data.object;
        outcome = await closeDispute(tx, deps, meta, d, d.status === 'won' || d.status === 'warning_closed' ? 'won' : 'lost');
        break;
      }
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
      // The price as the pack is now, never what the event says (it is checked against this).
      amountMinor: pack.priceMinor,
      currency: pack.currency,
      checkoutSessionId: session.id,
      createdAt: now,
      updatedAt: now,
    })
    .returning();
  return created ?? null;
}

/**
 * A paid checkout books the pack's tokens as a top-up through the normal ledger path, only when
 * Stripe's amount and currency are exactly the price snapshot taken at checkout; anything else
 * (a promotion code, an edited session, a forged metadata pair) credits nothing and waits for an
 * admin (`needs_review`).
 */
async function completeCheckout(tx: Queryable, deps: Deps, meta: RequestMeta, session: Stripe.Checkout.Session): Promise<string> {
  if (session.payment_status !== 'paid') return 'awaiting_payment';
  const payment = await paymentForSession(tx, deps, session);
  if (!payment) {
    deps.log.warn({ sessionId: session.id }, 'stripe checkout for an unknown session ignored');
    return 'unknown_session';
  }
  if (payment.status !== 'pending' && payment.status !== 'expired') return 'already_booked';
  const now = deps.clock.now();
  const paidCurrency = (session.currency ?? '').toLowerCase();
  if (session.amount_total !== payment.amountMinor || paidCurrency !== payment.currency) {
    const note = `Stripe charged ${session.amount_total ?? '?'} ${paidCurrency || '?'} but the pack costs ${payment.amountMinor} ${payment.currency}: not credited; check the session in Stripe`;
    deps.log.warn({ paymentId: payment.id, sessionId: session.id }, 'stripe checkout amount or currency differs from the pack; not credited');
    await tx
      .update(payments)
      .set({ status: 'needs_review', paymentIntentId: idOf(session.payment_intent), note, updatedAt: now })
      .where(eq(payments.id, payment.id));
    await audit(tx, STRIPE_ACTOR, meta, {
      action: 'payment.amount_mismatch',
      targetType: 'payment',
      targetId: payment.id,
      after: { amountTotal: session.amount_total, currency: paidCurrency, expectedMinor: payment.amountMinor, expectedCurrency: payment.currency },
    });
    return 'amount_mismatch';
  }
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
      reasonCode: 'stripe.topup',
    });
  }
  await tx
    .update(payments)
    .set({
      status: 'paid',
      paymentIntentId: idOf(session.payment_intent),
      paidAt: now,
      updatedAt: now,
      note,
    })
    .where(eq(payments.id, payment.id));
  return note ? 'paid_not_credited' : 'credited';
}

async function lockedPaymentOfIntent(tx: Queryable, intent: string | null): Promise<Payment | undefined> {
  if (!intent) return undefined;
  const [p] = await tx.select().from(payments).where(eq(payments.paymentIntentId, intent)).for('update');
  return p;
}

/** The unused top-up of a person (what a correction may take back), with their balance row locked. */
async function lockedTopup(tx: Queryable, userId: string): Promise<number> {
  const row = await one<{ topup_milli: string; status: string }>(
    tx,
    sql`select b.topup_milli, u.status from balances b join users u on u.id = b.user_id where b.user_id = ${userId} for update of b`,
  );
  return row && row.status !== 'deleted' ? Math.max(0, Number(row.topup_milli)) : 0;
}

/**
 * A dispute (chargeback) takes back the disputed share of the pack's tokens at once, as a negative
 * correction capped by the unused top-up, like a refund; what cannot be taken back is recorded.
 * Only the first dispute of a payment counts (Stripe allows one per charge).
 */
async function openDispute(tx: Queryable, deps: Deps, meta: RequestMeta, dispute: Stripe.Dispute): Promise<string> {
  const payment = await lockedPaymentOfIntent(tx, idOf(dispute.payment_intent));
  if (!payment) {
    deps.log.warn({ disputeId: dispute.id }, 'stripe dispute for an unknown payment ignored');
    return 'unknown_charge';
  }
  if (!payment.paidAt) return 'not_credited'; // e.g. needs_review: nothing was booked to take back
  if (payment.disputeId) return payment.disputeId === dispute.id ? 'already_disputed' : 'another_dispute_ignored';
  const disputedMinor = Math.min(dispute.amount, payment.amountMinor);
  const share = payment.amountMinor > 0 ? Number((BigInt(payment.tokensMilli) * BigInt(disputedMinor)) / BigInt(payment.amountMinor)) : 0;
  const target = Math.max(0, Math.min(share, payment.tokensMilli - payment.refundedMilli));
  const take = Math.min(target, await lockedTopup(tx, payment.userId));
  const shortfall = target - take;
  if (take > 0) {
    await bookCredits(tx, deps, STRIPE_ACTOR, meta, {
      userId: payment.userId,
      amountMilli: -take,
      reason: `Stripe dispute ${dispute.id} (${dispute.reason}) of checkout ${payment.checkoutSessionId ?? payment.id}`,
      idempotencyKey: `stripe:dispute:${dispute.id}`,
      kind: 'correction',
      reasonCode: 'stripe.dispute',
    });
  }
  await tx
    .update(payments)
    .set({
      status: 'disputed',
      disputeId: dispute.id,
      disputeStatus: 'open',
      disputedMilli: take,
      disputeShortfallMilli: shortfall,
      shortfallMilli: payment.shortfallMilli + shortfall,
      updatedAt: deps.clock.now(),
      ...(shortfall > 0 ? { note: 'disputed after the tokens were used: the shortfall could not be taken back' } : {}),
    })
    .where(eq(payments.id, payment.id));
  await audit(tx, STRIPE_ACTOR, meta, { action: 'payment.dispute_opened', targetType: 'payment', targetId: payment.id, after: { disputeId: dispute.id, takenMilli: take, shortfallMilli: shortfall } });
  return shortfall > 0 ? 'disputed_with_shortfall' : 'disputed';
}

/**
 * A dispute closed: won (or funds reinstated, or an inquiry closed) gives back exactly what it took,
 * as a positive correction, once — whichever of `funds_reinstated` and `closed` comes first; lost
 * keeps it taken.
 */
async function closeDispute(tx: Queryable, deps: Deps, meta: RequestMeta, dispute: Stripe.Dispute, result: 'won' | 'lost'): Promise<string> {
  const payment = await lockedPaymentOfIntent(tx, idOf(dispute.payment_intent));
  if (!payment || payment.disputeId !== dispute.id) return 'unknown_dispute';
  if (payment.disputeStatus !== 'open') return 'already_closed';
  const now = deps.clock.now();
  if (result === 'lost') {
    await tx.update(payments).set({ disputeStatus: 'lost', updatedAt: now }).where(eq(payments.id, payment.id));
    await audit(tx, STRIPE_ACTOR, meta, { action: 'payment.dispute_lost', targetType: 'payment', targetId: payment.id });
    return 'dispute_lost';
  }
  const [user] = await tx.select({ status: users.status }).from(users).where(eq(users.id, payment.userId));
  if (payment.disputedMilli > 0 && user?.status !== 'deleted') {
    await bookCredits(tx, deps, STRIPE_ACTOR, meta, {
      userId: payment.userId,
      amountMilli: payment.disputedMilli,
      reason: `Stripe dispute ${dispute.id} won: tokens of checkout ${payment.checkoutSessionId ?? payment.id} given back`,
      idempotencyKey: `stripe:dispute_reversal:${dispute.id}`,
      kind: 'correction',
      reasonCode: 'stripe.dispute_reversed',
    });
  }
  await tx
    .update(payments)
    .set({
      status: payment.refundedMinor >= payment.amountMinor ? 'refunded' : payment.refundedMinor > 0 ? 'partially_refunded' : 'paid',
      disputeStatus: 'won',
      shortfallMilli: payment.shortfallMilli - payment.disputeShortfallMilli,
      updatedAt: now,
    })
    .where(eq(payments.id, payment.id));
  await audit(tx, STRIPE_ACTOR, meta, { action: 'payment.dispute_won', targetType: 'payment', targetId: payment.id, after: { givenBackMilli: payment.disputedMilli } });
  return 'dispute_reversed';
}

async function expireCheckout(tx: Queryable, deps: Deps, session: Stripe.Checkout.Session): Promise<string> {
  const updated = await tx
    .update(payments)
    .set({ status: 'expired', updatedAt: deps.clock.now() })
    .where(sql`${payments.checkoutSessionId} = ${session.id} and ${payments.status} = 'pending'`)
    .returning({ id: payments.id });
  return updated.length ? 'expired' : 'ignored';
}

/** An asynchronous payment (boleto, bank debit) that failed: nothing was credited; the payment is `failed`. */
async function failCheckout(tx: Queryable, deps: Deps, meta: RequestMeta, session: Stripe.Checkout.Session): Promise<string> {
  const updated = await tx
    .update(payments)
    .set({ status: 'failed', paymentIntentId: idOf(session.payment_intent), note: 'the payment did not go through (Stripe: async_payment_failed)', updatedAt: deps.clock.now() })
    .where(sql`${payments.checkoutSessionId} = ${session.id} and ${payments.status} in ('pending', 'expired')`)
    .returning({ id: payments.id });
  if (!updated.length) return 'ignored';
  await audit(tx, STRIPE_ACTOR, meta, { action: 'payment.failed', targetType: 'payment', targetId: updated[0]!.id });
  return 'payment_failed';
}

/**
 * A refund takes back the share of the pack's tokens that matches the refunded share of the price
 * (charge.amount_refunded is cumulative), as a negative correction in the top-up bucket, capped by
 * what is left there. What cannot be taken back (already used) is recorded on the payment as a
 * shortfall for admins; the webhook never fails on it.
 */
async function refundCharge(tx: Queryable, deps: Deps, meta: RequestMeta, charge: Stripe.Charge): Promise<string> {
  const payment = await lockedPaymentOfIntent(tx, idOf(charge.payment_intent));
  if (!payment) {
    deps.log.warn({ chargeId: charge.id }, 'stripe refund for an unknown payment ignored');
    return 'unknown_charge';
  }
  if (!payment.paidAt) return 'not_credited'; // e.g. needs_review: nothing was booked to take back
  const refundedMinor = Math.min(charge.amount_refunded, payment.amountMinor);
  const targetMilli = payment.amountMinor > 0 ? Number((BigInt(payment.tokensMilli) * BigInt(refundedMinor)) / BigInt(payment.amountMinor)) : 0;
  const delta = targetMilli - payment.refundedMilli;
  if (delta <= 0) return 'already_refunded';
  const take = Math.min(delta, await lockedTopup(tx, payment.userId));
  if (take > 0) {
    await bookCredits(tx, deps, STRIPE_ACTOR, meta, {
      userId: payment.userId,
      amountMilli: -take,
      reason: `Stripe refund ${charge.id} of checkout ${payment.checkoutSessionId ?? payment.id}`,
      idempotencyKey: `stripe:refund:${charge.id}:${charge.amount_refunded}`,
      kind: 'correction',
      reasonCode: 'stripe.refund',
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
