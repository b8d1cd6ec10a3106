import { createRoute, z } from '@hono/zod-openapi';
import { bodyLimit } from 'hono/body-limit';
import { handleStripeEvent } from '../domain/payments/webhook.js';
import { createRouter } from '../http/env.js';
import { ApiError } from '../lib/errors.js';
import type { Stripe } from '../lib/stripe.js';
import { ErrorSchema, json } from './schemas.js';

const MAX_BODY = 1024 * 1024;
const err = (d: string) => json(ErrorSchema, d);

const route = createRoute({
  method: 'post',
  path: '/stripe',
  tags: ['webhooks'],
  summary: 'Stripe events (checkout.session.completed, charge.refunded, …), verified with the Stripe-Signature header',
  security: [],
  responses: {
    200: json(z.object({ received: z.boolean(), duplicate: z.boolean(), outcome: z.string() }), 'Processed (or already processed)'),
    400: err('Bad signature or body'),
    413: err('Body too large'),
    503: err('Payments not configured, or the database is down: Stripe retries'),
  },
});

export function stripeWebhookRoutes() {
  const router = createRouter();
  router.use(
    '/stripe',
    bodyLimit({
      maxSize: MAX_BODY,
      onError: () => {
        throw new ApiError('payload_too_large', `body is larger than ${MAX_BODY} bytes`);
      },
    }),
  );
  return router.openapi(route, async (c) => {
    const deps = c.get('deps');
    const secret = deps.config.STRIPE_WEBHOOK_SECRET;
    if (!deps.stripe || !secret) throw new ApiError('dependency_unavailable', 'payments are not configured (STRIPE_SECRET_KEY, STRIPE_WEBHOOK_SECRET)');
    const raw = await c.req.text();
    let event: Stripe.Event;
    try {
      // The raw body exactly as sent: any re-serialisation would break the signature.
      event = deps.stripe.webhooks.constructEvent(raw, c.req.header('stripe-signature') ?? '', secret);
    } catch (e) {
      c.get('log').warn({ err: (e as Error).message }, 'stripe webhook with a bad signature refused');
      throw new ApiError('validation_error', 'invalid Stripe signature');
    }
    const result = await handleStripeEvent(deps, { requestId: c.get('requestId') }, event);
    c.get('log').info({ eventId: event.id, type: event.type, ...result }, 'stripe event');
    return c.json({ received: true, ...result }, 200);
  });
}
