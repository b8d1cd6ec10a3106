import { sql } from 'drizzle-orm';
import type { Deps } from '../../deps.js';
import { conversionFactors } from '../../db/schema/index.js';
import { randomBytes } from 'node:crypto';
import { seedPlans } from '../plans.js';
import { countAdmins, createAdmin } from './admins.js';

/**
 * First start: the initial conversion factor, the default plans and the bootstrap admin.
 * Idempotent and safe with several replicas starting together (transaction-scoped advisory lock).
 * Returns the generated admin password when one had to be made (to print once).
 */
export async function bootstrap(deps: Deps): Promise<{ generatedPassword?: string }> {
  return deps.db.transaction(async (tx) => {
    await tx.execute(sql`select pg_advisory_xact_lock(7302002)`);
    const [factor] = await tx.select({ id: conversionFactors.id }).from(conversionFactors).limit(1);
    if (!factor) {
      await tx.insert(conversionFactors).values({
        factorMicro: deps.config.CONVERSION_FACTOR,
        reason: 'initial value (CONVERSION_FACTOR)',
        actor: 'system',
      });
    }
    await seedPlans(tx);
    if ((await countAdmins(tx)) > 0) return {};
    const generated = deps.config.ADMIN_PASSWORD ? undefined : randomBytes(18).toString('base64url');
    await createAdmin(tx, 'system', {}, {
      email: deps.config.ADMIN_EMAIL,
      name: 'Administrator',
      role: 'admin',
      password: deps.config.ADMIN_PASSWORD ?? generated!,
    });
    return { generatedPassword: generated };
  });
}
