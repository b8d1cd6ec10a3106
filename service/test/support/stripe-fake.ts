import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Stripe from 'stripe';

export const STRIPE_SECRET_KEY = 'sk_test_companion_0123456789';
export const STRIPE_WEBHOOK_SECRET = 'whsec_test_companion_0123456789';

const rid = (prefix: string) => `${prefix}_test_${randomBytes(12).toString('hex')}`;

/** Stripe's form encoding (a[b][0][c]=v) → a flat map of bracketed keys. */
function parseForm(body: string): Map<string, string> {
  return new Map(new URLSearchParams(body).entries());
}

export interface FakeSession {
  id: string;
  object: 'checkout.session';
  amount_subtotal: number;
  amount_total: number;
  currency: string;
  client_reference_id: string | null;
  customer_email: string | null;
  metadata: Record<string, string>;
  mode: string;
  payment_intent: string | null;
  payment_status: 'unpaid' | 'paid';
  status: 'open' | 'complete' | 'expired';
  success_url: string;
  cancel_url: string;
  url: string;
  livemode: false;
  created: number;
  expires_at: number;
}

/**
 * A local stand-in for Stripe's API, for the official SDK pointed at it (STRIPE_API_BASE): answers
 * POST /v1/checkout/sessions like Stripe (a realistic Checkout Session with id cs_test_… and url),
 * and builds the events Stripe would then send, signed with the SDK's own test helper.
 */
export async function startStripeFake(opts: { checkoutBase?: string } = {}) {
  const sessions = new Map<string, FakeSession>();
  const requests: { path: string; form: Map<string, string>; idempotencyKey?: string; authorization?: string }[] = [];
  const byIdempotency = new Map<string, FakeSession>();
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      res.setHeader('content-type', 'application/json');
      res.setHeader('request-id', rid('req'));
      const form = parseForm(body);
      const idem = req.headers['idempotency-key'] as string | undefined;
      requests.push({ path: `${req.method} ${req.url}`, form, idempotencyKey: idem, authorization: req.headers.authorization });
      if (req.headers.authorization !== `Bearer ${STRIPE_SECRET_KEY}`) {
        res.statusCode = 401;
        return res.end(JSON.stringify({ error: { type: 'invalid_request_error', message: 'Invalid API Key provided' } }));
      }
      if (req.method === 'POST' && req.url === '/v1/checkout/sessions') {
        if (idem && byIdempotency.has(idem)) return res.end(JSON.stringify(byIdempotency.get(idem)));
        const missing = ['mode', 'success_url', 'line_items[0][price_data][unit_amount]', 'line_items[0][price_data][currency]'].filter((k) => !form.get(k));
        if (missing.length) {
          res.statusCode = 400;
          return res.end(JSON.stringify({ error: { type: 'invalid_request_error', message: `Missing required param: ${missing[0]}.`, param: missing[0] } }));
        }
        const id = rid('cs');
        const amount = Number(form.get('line_items[0][price_data][unit_amount]')) * Number(form.get('line_items[0][quantity]') ?? 1);
        const metadata: Record<string, string> = {};
        for (const [k, v] of form) {
          const m = /^metadata\[(.+)\]$/.exec(k);
          if (m) metadata[m[1]!] = v;
        }
        const now = Math.floor(Date.now() / 1000);
        const session: FakeSession = {
          id,
          object: 'checkout.session',
          amount_subtotal: amount,
          amount_total: amount,
          currency: form.get('line_items[0][price_data][currency]')!,
          client_reference_id: form.get('client_reference_id') ?? null,
          customer_email: form.get('customer_email') ?? null,
          metadata,
          mode: form.get('mode')!,
          payment_intent: null,
          payment_status: 'unpaid',
          status: 'open',
          success_url: form.get('success_url')!,
          cancel_url: form.get('cancel_url') ?? '',
          url: `${opts.checkoutBase ?? 'https://checkout.stripe.com/c/pay'}/${id}#fidkdWxOYHwnPyd1blpxYHZxWjA0`,
          livemode: false,
          created: now,
          expires_at: now + 86_400,
        };
        sessions.set(id, session);
        if (idem) byIdempotency.set(idem, session);
        return res.end(JSON.stringify(session));
      }
      res.statusCode = 404;
      res.end(JSON.stringify({ error: { type: 'invalid_request_error', message: `Unrecognized request URL (${req.method}: ${req.url}).` } }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const signer = new Stripe(STRIPE_SECRET_KEY);

  const event = (type: string, object: unknown, id = rid('evt')) => ({
    id,
    object: 'event',
    api_version: '2026-10-28.endive',
    created: Math.floor(Date.now() / 1000),
    data: { object },
    livemode: false,
    pending_webhooks: 1,
    request: { id: null, idempotency_key: null },
    type,
  });

  return {
    url,
    sessions,
    requests,
    /** The checkout.session.completed event for a session, paid (payment_intent pi_test_…). */
    completedEvent(sessionId: string, o: { id?: string; paymentStatus?: 'paid' | 'unpaid'; amountTotal?: number; currency?: string } = {}) {
      const s = sessions.get(sessionId);
      if (!s) throw new Error(`no session ${sessionId}`);
      s.payment_intent ??= rid('pi');
      const object = {
        ...s,
        status: 'complete',
        payment_status: o.paymentStatus ?? 'paid',
        ...(o.amountTotal === undefined ? {} : { amount_total: o.amountTotal, amount_subtotal: o.amountTotal }),
        ...(o.currency === undefined ? {} : { currency: o.currency }),
      };
      return event('checkout.session.completed', object, o.id);
    },
    /** checkout.session.async_payment_failed (a boleto or bank debit that did not go through). */
    asyncFailedEvent(sessionId: string) {
      const s = sessions.get(sessionId);
      if (!s) throw new Error(`no session ${sessionId}`);
      s.payment_intent ??= rid('pi');
      return event('checkout.session.async_payment_failed', { ...s, status: 'complete', payment_status: 'unpaid' });
    },
    /**
     * A dispute event for a completed session's charge, shaped like Stripe's Dispute object:
     * charge.dispute.created (status needs_response), .closed (won/lost), .funds_reinstated.
     */
    disputeEvent(
      sessionId: string,
      type: 'charge.dispute.created' | 'charge.dispute.closed' | 'charge.dispute.funds_reinstated',
      o: { disputeId?: string; amount?: number; status?: string; id?: string } = {},
    ) {
      const s = sessions.get(sessionId);
      if (!s?.payment_intent) throw new Error(`session ${sessionId} was not completed`);
      const status = o.status ?? (type === 'charge.dispute.created' ? 'needs_response' : type === 'charge.dispute.funds_reinstated' ? 'under_review' : 'won');
      const dispute = {
        id: o.disputeId ?? `dp_${s.payment_intent.slice(3)}`,
        object: 'dispute',
        amount: o.amount ?? s.amount_total,
        balance_transactions: [],
        charge: `ch_${s.payment_intent.slice(3)}`,
        created: Math.floor(Date.now() / 1000),
        currency: s.currency,
        evidence: {},
        evidence_details: { due_by: Math.floor(Date.now() / 1000) + 7 * 86_400, has_evidence: false, past_due: false, submission_count: 0 },
        is_charge_refundable: false,
        livemode: false,
        metadata: {},
        payment_intent: s.payment_intent,
        reason: 'fraudulent',
        status,
      };
      return event(type, dispute, o.id);
    },
    /** charge.refunded for a completed session's payment; amountRefunded is cumulative (minor units). */
    refundEvent(sessionId: string, amountRefunded: number, o: { id?: string; chargeId?: string } = {}) {
      const s = sessions.get(sessionId);
      if (!s?.payment_intent) throw new Error(`session ${sessionId} was not completed`);
      const charge = {
        id: o.chargeId ?? `ch_${s.payment_intent.slice(3)}`,
        object: 'charge',
        amount: s.amount_total,
        amount_captured: s.amount_total,
        amount_refunded: amountRefunded,
        currency: s.currency,
        paid: true,
        captured: true,
        refunded: amountRefunded >= s.amount_total,
        payment_intent: s.payment_intent,
        status: 'succeeded',
        metadata: {},
        created: Math.floor(Date.now() / 1000),
        livemode: false,
      };
      return event('charge.refunded', charge, o.id);
    },
    /** Body and Stripe-Signature header as Stripe would send them. */
    sign(evt: unknown, secret = STRIPE_WEBHOOK_SECRET) {
      const payload = JSON.stringify(evt, null, 2);
      return { payload, header: signer.webhooks.generateTestHeaderString({ payload, secret }) };
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
export type StripeFake = Awaited<ReturnType<typeof startStripeFake>>;

export const stripeEnv = (fake: { url: string }) => ({
  STRIPE_SECRET_KEY,
  STRIPE_WEBHOOK_SECRET,
  STRIPE_API_BASE: fake.url,
});
