import type { Deps } from '../../deps.js';
import { payments } from '../../db/schema/index.js';
import { ApiError, conflict } from '../../lib/errors.js';
import { newId } from '../../lib/ids.js';
import { audit } from '../audit.js';
import type { RequestMeta } from '../actor.js';
import { loadUser } from '../users/view.js';
import { getPack } from './packs.js';

/**
 * "Buy": a Stripe Checkout Session (mode payment) for one active pack, and a pending payment row
 * with snapshots of what is bought. The top-up itself is booked only by the signed webhook.
 */
export async function startCheckout(deps: Deps, meta: RequestMeta, input: { userId: string; packId: string; origin: string }) {
  const stripe = deps.stripe;
  if (!stripe) throw new ApiError('dependency_unavailable', 'payments are not configured on this server; ask an administrator for credits');
  const { user } = await loadUser(deps.db, input.userId);
  if (user.status === 'deleted') throw conflict('the person is deleted');
  const pack = await getPack(deps.db, input.packId);
  if (!pack.active) throw new ApiError('not_found', 'credit pack not found');
  const paymentId = newId('pay');
  const metadata = { payment_id: paymentId, pack_id: pack.id, person_id: user.id };
  let session;
  try {
    session = await stripe.checkout.sessions.create(
      {
        mode: 'payment',
        client_reference_id: user.id,
        customer_email: user.email,
        locale: user.locale === 'en' ? 'en' : 'pt-BR',
        line_items: [{ quantity: 1, price_data: { currency: pack.currency, unit_amount: pack.priceMinor, product_data: { name: pack.name } } }],
        metadata,
        payment_intent_data: { metadata },
        success_url: `${input.origin}/me?checkout=success&session_id={CHECKOUT_SESSION_ID}`,
        cancel_url: `${input.origin}/me?checkout=cancel`,
      },
      { idempotencyKey: paymentId },
    );
  } catch (err) {
    deps.log.warn({ err: (err as Error).message, userId: user.id }, 'stripe checkout session failed');
    throw new ApiError('dependency_unavailable', 'the payment provider did not answer; try again in a moment');
  }
  if (!session.url) throw new ApiError('dependency_unavailable', 'the payment provider returned no checkout URL');
  const now = deps.clock.now();
  await deps.db.transaction(async (tx) => {
    await tx.insert(payments).values({
      id: paymentId,
      userId: user.id,
      packId: pack.id,
      packName: pack.name,
      tokensMilli: pack.tokensMilli,
      amountMinor: pack.priceMinor,
      currency: pack.currency,
      status: 'pending',
      checkoutSessionId: session.id,
      createdAt: now,
      updatedAt: now,
    });
    await audit(tx, `portal:${user.email}`, meta, { action: 'payment.checkout', targetType: 'payment', targetId: paymentId, after: { packId: pack.id, sessionId: session.id } });
  });
  return { paymentId, url: session.url };
}
