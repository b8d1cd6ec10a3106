import { asc, eq } from 'drizzle-orm';
import type { Queryable } from '../../db/client.js';
import { creditPacks, type CreditPack } from '../../db/schema/index.js';
import { notFound } from '../../lib/errors.js';
import { newId } from '../../lib/ids.js';
import type { Actor, RequestMeta } from '../actor.js';
import { audit } from '../audit.js';
import { milliToCredits } from '../money.js';

export function packView(p: CreditPack) {
  return {
    id: p.id,
    name: p.name,
    tokens: milliToCredits(p.tokensMilli),
    priceMinor: p.priceMinor,
    currency: p.currency,
    active: p.active,
    createdAt: p.createdAt.toISOString(),
    updatedAt: p.updatedAt.toISOString(),
  };
}
export type PackView = ReturnType<typeof packView>;

export async function listPacks(q: Queryable, opts: { activeOnly?: boolean } = {}): Promise<PackView[]> {
  const list = await q
    .select()
    .from(creditPacks)
    .where(opts.activeOnly ? eq(creditPacks.active, true) : undefined)
    .orderBy(asc(creditPacks.priceMinor), asc(creditPacks.createdAt));
  return list.map(packView);
}

export async function getPack(q: Queryable, id: string): Promise<CreditPack> {
  const [p] = await q.select().from(creditPacks).where(eq(creditPacks.id, id));
  if (!p) throw notFound('credit pack');
  return p;
}

export interface PackInput {
  name: string;
  tokensMilli: number;
  priceMinor: number;
  currency: string;
}

export async function createPack(q: Queryable, actor: Actor, meta: RequestMeta, input: PackInput): Promise<PackView> {
  const [p] = await q
    .insert(creditPacks)
    .values({ id: newId('pck'), name: input.name, tokensMilli: input.tokensMilli, priceMinor: input.priceMinor, currency: input.currency.toLowerCase() })
    .returning();
  const view = packView(p!);
  await audit(q, actor, meta, { action: 'pack.create', targetType: 'pack', targetId: p!.id, after: view });
  return view;
}

export async function updatePack(q: Queryable, actor: Actor, meta: RequestMeta, id: string, patch: Partial<PackInput> & { active?: boolean }): Promise<PackView> {
  const before = await getPack(q, id);
  const [p] = await q
    .update(creditPacks)
    .set({
      ...(patch.name === undefined ? {} : { name: patch.name }),
      ...(patch.tokensMilli === undefined ? {} : { tokensMilli: patch.tokensMilli }),
      ...(patch.priceMinor === undefined ? {} : { priceMinor: patch.priceMinor }),
      ...(patch.currency === undefined ? {} : { currency: patch.currency.toLowerCase() }),
      ...(patch.active === undefined ? {} : { active: patch.active }),
      updatedAt: new Date(),
    })
    .where(eq(creditPacks.id, id))
    .returning();
  const view = packView(p!);
  await audit(q, actor, meta, { action: 'pack.update', targetType: 'pack', targetId: id, before: packView(before), after: view });
  return view;
}
