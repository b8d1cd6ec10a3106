import { asc, eq } from 'drizzle-orm';
import type { Queryable } from '../db/client.js';
import { plans, type Plan } from '../db/schema/index.js';
import { ApiError, conflict, notFound } from '../lib/errors.js';
import { newId } from '../lib/ids.js';
import type { Actor, RequestMeta } from './actor.js';
import { audit } from './audit.js';
import { milliToCredits } from './money.js';

/** Seeded once (by slug); admins edit them afterwards. Credits a month. */
export const DEFAULT_PLANS = [
  { slug: 'basic', name: 'Basic', monthlyCredits: 1_000_000 },
  { slug: 'pro', name: 'Pro', monthlyCredits: 5_000_000 },
  { slug: 'enterprise', name: 'Enterprise', monthlyCredits: 10_000_000 },
];

export function planView(p: Plan) {
  return {
    id: p.id,
    slug: p.slug,
    name: p.name,
    monthlyCredits: milliToCredits(p.monthlyMilli),
    active: p.active,
    createdAt: p.createdAt.toISOString(),
    updatedAt: p.updatedAt.toISOString(),
  };
}
export type PlanView = ReturnType<typeof planView>;

export async function seedPlans(q: Queryable): Promise<void> {
  await q
    .insert(plans)
    .values(DEFAULT_PLANS.map((p) => ({ id: newId('pln'), slug: p.slug, name: p.name, monthlyMilli: p.monthlyCredits * 1000 })))
    .onConflictDoNothing({ target: plans.slug });
}

export async function listPlans(q: Queryable): Promise<PlanView[]> {
  return (await q.select().from(plans).orderBy(asc(plans.monthlyMilli), asc(plans.slug))).map(planView);
}

/** Find an active plan by id or slug. */
export async function resolvePlan(q: Queryable, ref: string): Promise<Plan> {
  const [plan] = await q
    .select()
    .from(plans)
    .where(ref.startsWith('pln_') ? eq(plans.id, ref) : eq(plans.slug, ref))
    .limit(1);
  if (!plan) throw new ApiError('validation_error', `plan '${ref}' does not exist`, { field: 'plan' });
  if (!plan.active) throw new ApiError('validation_error', `plan '${ref}' is inactive`, { field: 'plan' });
  return plan;
}

export interface PlanInput {
  slug: string;
  name: string;
  monthlyMilli: number;
}

export async function createPlan(q: Queryable, actor: Actor, meta: RequestMeta, input: PlanInput): Promise<PlanView> {
  const [plan] = await q
    .insert(plans)
    .values({ id: newId('pln'), ...input })
    .onConflictDoNothing({ target: plans.slug })
    .returning();
  if (!plan) throw conflict(`a plan with slug '${input.slug}' already exists`);
  await audit(q, actor, meta, { action: 'plan.create', targetType: 'plan', targetId: plan.id, after: planView(plan) });
  return planView(plan);
}

export async function updatePlan(
  q: Queryable,
  actor: Actor,
  meta: RequestMeta,
  id: string,
  patch: Partial<Pick<Plan, 'name' | 'monthlyMilli' | 'active'>>,
): Promise<PlanView> {
  const [before] = await q.select().from(plans).where(eq(plans.id, id)).for('update');
  if (!before) throw notFound('plan');
  const [after] = await q
    .update(plans)
    .set({ ...patch, updatedAt: new Date() })
    .where(eq(plans.id, id))
    .returning();
  await audit(q, actor, meta, {
    action: 'plan.update',
    targetType: 'plan',
    targetId: id,
    before: planView(before),
    after: planView(after!),
  });
  return planView(after!);
}
