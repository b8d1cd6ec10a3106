import { and, desc, eq, sql, type SQL } from 'drizzle-orm';
import { rows, type Queryable } from '../../db/client.js';
import { payments, users, type Payment, type PaymentStatus } from '../../db/schema/index.js';
import { milliToCredits } from '../money.js';

export function paymentView(p: Payment) {
  return {
    id: p.id,
    userId: p.userId,
    packId: p.packId,
    packName: p.packName,
    tokens: milliToCredits(p.tokensMilli),
    amountMinor: p.amountMinor,
    currency: p.currency,
    status: p.status,
    refundedMinor: p.refundedMinor,
    refundedTokens: milliToCredits(p.refundedMilli),
    shortfallTokens: milliToCredits(p.shortfallMilli),
    note: p.note,
    checkoutSessionId: p.checkoutSessionId,
    createdAt: p.createdAt.toISOString(),
    paidAt: p.paidAt?.toISOString() ?? null,
    refundedAt: p.refundedAt?.toISOString() ?? null,
  };
}

export async function listPayments(q: Queryable, input: { userId?: string; status?: PaymentStatus; page: number; pageSize: number }) {
  const filters: SQL[] = [];
  if (input.userId) filters.push(eq(payments.userId, input.userId));
  if (input.status) filters.push(eq(payments.status, input.status));
  const where = filters.length ? and(...filters) : undefined;
  const [list, [total]] = await Promise.all([
    q
      .select({ p: payments, email: users.email, name: users.name })
      .from(payments)
      .innerJoin(users, eq(users.id, payments.userId))
      .where(where)
      .orderBy(desc(payments.createdAt), desc(payments.id))
      .limit(input.pageSize)
      .offset((input.page - 1) * input.pageSize),
    q.select({ n: sql<number>`count(*)`.mapWith(Number) }).from(payments).where(where),
  ]);
  return {
    items: list.map((r) => ({ ...paymentView(r.p), email: r.email, name: r.name })),
    total: total?.n ?? 0,
    page: input.page,
    pageSize: input.pageSize,
  };
}

/** Revenue of payments made since `since`, per currency: paid, refunded, net (minor units). */
export async function revenueSince(q: Queryable, since: Date) {
  const list = await rows<{ currency: string; payments: string; paid: string; refunded: string }>(
    q,
    sql`select currency, count(*) as payments, sum(amount_minor) as paid, sum(refunded_minor) as refunded
        from payments where status in ('paid', 'partially_refunded', 'refunded') and paid_at >= ${since.toISOString()}::timestamptz
        group by currency order by currency`,
  );
  return list.map((r) => ({
    currency: r.currency,
    payments: Number(r.payments),
    paidMinor: Number(r.paid),
    refundedMinor: Number(r.refunded),
    netMinor: Number(r.paid) - Number(r.refunded),
  }));
}
