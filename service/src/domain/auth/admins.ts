import { asc, count, eq } from 'drizzle-orm';
import type { Queryable } from '../../db/client.js';
import { admins, type Admin, type Role } from '../../db/schema/index.js';
import { hashPassword } from '../../lib/crypto.js';
import { ApiError, conflict } from '../../lib/errors.js';
import { newId } from '../../lib/ids.js';
import type { Actor, RequestMeta } from '../actor.js';
import { audit } from '../audit.js';
import { passwordProblem } from './password-policy.js';

/** The password policy (password-policy.ts) as a 400 naming the field. */
export function checkPasswordPolicy(password: string): void {
  const problem = passwordProblem(password);
  if (problem) throw new ApiError('validation_error', problem, { field: 'password' });
}

export function adminView(a: Admin) {
  return { id: a.id, email: a.email, name: a.name, role: a.role, disabled: a.disabled, createdAt: a.createdAt.toISOString() };
}

export async function createAdmin(
  q: Queryable,
  actor: Actor | string,
  meta: RequestMeta,
  input: { email: string; name: string; role: Role; password: string },
) {
  checkPasswordPolicy(input.password);
  const email = input.email.trim().toLowerCase();
  const [row] = await q
    .insert(admins)
    .values({ id: newId('adm'), email, name: input.name.trim(), role: input.role, passwordHash: await hashPassword(input.password) })
    .onConflictDoNothing({ target: admins.email })
    .returning();
  if (!row) throw conflict(`an admin with email ${email} already exists`);
  await audit(q, actor, meta, { action: 'admin.create', targetType: 'admin', targetId: row.id, after: adminView(row) });
  return adminView(row);
}

export async function listAdmins(q: Queryable) {
  return (await q.select().from(admins).orderBy(asc(admins.createdAt))).map(adminView);
}

export async function countAdmins(q: Queryable): Promise<number> {
  const [r] = await q.select({ n: count() }).from(admins);
  return Number(r?.n ?? 0);
}

export async function findAdminByEmail(q: Queryable, email: string): Promise<Admin | undefined> {
  const [a] = await q.select().from(admins).where(eq(admins.email, email.trim().toLowerCase())).limit(1);
  return a;
}
