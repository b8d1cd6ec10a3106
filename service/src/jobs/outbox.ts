import { eq, sql } from 'drizzle-orm';
import type { Deps } from '../deps.js';
import { one, rows } from '../db/client.js';
import { keys, mailLog, outbox } from '../db/schema/index.js';
import { MailError } from '../lib/mailer.js';
import { desiredBudgetNano } from '../domain/keys.js';
import { loginMailAtSend } from '../domain/portal/sessions.js';
import { nanoToUsd } from '../domain/money.js';
import { LiteLLMError } from '../litellm/errors.js';

interface Item {
  id: number;
  kind: string;
  aggregate: string;
  payload: Record<string, unknown>;
  attempts: number;
}

/** How long a claimed item is invisible to other workers (a crashed worker's item returns). */
const LEASE_SECONDS = 60;
const MAX_BACKOFF_SECONDS = 300;

export function backoffSeconds(attempts: number): number {
  const base = Math.min(MAX_BACKOFF_SECONDS, 2 ** Math.min(attempts, 12));
  return base * (0.75 + Math.random() * 0.5);
}

/**
 * Claim due items with FOR UPDATE SKIP LOCKED (safe with N replicas). Only the oldest pending item
 * of each aggregate is eligible, so items for one key apply in order. Claiming sets a lease; the
 * item stays `pending` until done, so a crash means a retry, never a loss.
 */
async function claim(deps: Deps, limit: number): Promise<Item[]> {
  return rows<Item>(
    deps.db,
    sql`update outbox set next_attempt_at = now() + make_interval(secs => ${LEASE_SECONDS}), attempts = attempts + 1
        where id in (
          select o.id from outbox o
          where o.status = 'pending' and o.next_attempt_at <= now()
            and not exists (select 1 from outbox p where p.aggregate = o.aggregate and p.status = 'pending' and p.id < o.id)
          order by o.id limit ${limit}
          for update skip locked)
        returning id, kind, aggregate, payload, attempts`,
  );
}

/** Perform one item. Every action is idempotent (absolute values, block/unblock, delete-if-present, keyed mail). */
async function perform(deps: Deps, item: Item): Promise<void> {
  if (item.kind === 'mail.send') return sendMail(deps, Number(item.payload.mailId), item.payload.loginOrigin as string | undefined);
  const litellm = deps.litellm;
  if (!litellm) throw new Error('LiteLLM is not configured');
  const keyId = String(item.payload.keyId ?? '');
  const [key] = await deps.db.select().from(keys).where(eq(keys.id, keyId));
  if (!key?.tokenHash) return; // never provisioned: nothing to change in LiteLLM
  switch (item.kind) {
    case 'litellm.sync_budget': {
      if (key.status === 'revoked') return;
      // Everything queued for this key up to now is covered by pushing the current value.
      const upTo = await one<{ max: string | null }>(
        deps.db,
        sql`select max(id) as max from outbox where aggregate = ${item.aggregate} and kind = 'litellm.sync_budget' and status = 'pending'`,
      );
      const budget = await desiredBudgetNano(deps.db, key.id);
      await litellm.updateKey(key.tokenHash, { maxBudgetUsd: nanoToUsd(budget) });
      const now = deps.clock.now();
      await deps.db.update(keys).set({ pushedBudgetNano: budget, pushedAt: now }).where(eq(keys.id, key.id));
      if (upTo?.max) {
        await deps.db.execute(
          sql`update outbox set status = 'done', done_at = now() where aggregate = ${item.aggregate}
              and kind = 'litellm.sync_budget' and status = 'pending' and id <= ${Number(upTo.max)} and id <> ${item.id}`,
        );
      }
      return;
    }
    case 'litellm.block':
      await litellm.blockKey(key.tokenHash);
      if (key.status === 'active') await deps.db.update(keys).set({ status: 'blocked' }).where(eq(keys.id, key.id));
      return;
    case 'litellm.unblock':
      await litellm.unblockKey(key.tokenHash);
      if (key.status === 'blocked') await deps.db.update(keys).set({ status: 'active' }).where(eq(keys.id, key.id));
      return;
    case 'litellm.delete':
      await litellm.deleteKeys([key.tokenHash]); // "not found" counts as done
      return;
    default:
      throw new Error(`unknown outbox kind ${item.kind}`);
  }
}

/**
 * Send one logged mail. A sign-in mail (`loginOrigin` set) is logged with its link redacted; its
 * content, with a freshly minted token, is made here and goes only to Resend.
 */
async function sendMail(deps: Deps, mailId: number, loginOrigin?: string): Promise<void> {
  const [mail] = await deps.db.select().from(mailLog).where(eq(mailLog.id, mailId));
  if (!mail || mail.status === 'sent') return;
  if (!deps.mailer) throw new Error('RESEND_API_KEY is not configured');
  try {
    const content = loginOrigin && mail.userId ? await loginMailAtSend(deps, mail.userId, loginOrigin) : mail;
    if (!content) throw new MailError('the person was deleted before the sign-in link was sent', false);
    const { id } = await deps.mailer.send({
      from: deps.config.MAIL_FROM,
      to: mail.to,
      subject: content.subject,
      text: content.text,
      html: content.html,
      idempotencyKey: `mail-${mail.id}`,
    });
    await deps.db.update(mailLog).set({ status: 'sent', providerId: id, sentAt: deps.clock.now(), error: null }).where(eq(mailLog.id, mail.id));
  } catch (err) {
    await deps.db.update(mailLog).set({ error: (err as Error).message.slice(0, 500) }).where(eq(mailLog.id, mail.id));
    throw err;
  }
}

/** Claim and perform up to `limit` items; returns how many were finished. */
export async function drainOutbox(deps: Deps, limit = 50): Promise<number> {
  const items = await claim(deps, limit);
  let done = 0;
  await Promise.all(
    items.map(async (item) => {
      try {
        await perform(deps, item);
        await deps.db.update(outbox).set({ status: 'done', doneAt: deps.clock.now(), lastError: null }).where(eq(outbox.id, item.id));
        done++;
      } catch (err) {
        const retryable = !(err instanceof LiteLLMError || err instanceof MailError) || err.retryable;
        const message = (err as Error).message.slice(0, 500);
        deps.metrics.outboxFailures.inc({ kind: item.kind });
        deps.log.warn({ outboxId: item.id, kind: item.kind, attempts: item.attempts, retryable, err: message }, 'outbox item failed');
        await deps.db
          .update(outbox)
          .set(
            retryable
              ? { lastError: message, nextAttemptAt: new Date(Date.now() + backoffSeconds(item.attempts) * 1000) }
              : { lastError: message, status: 'dead' },
          )
          .where(eq(outbox.id, item.id));
        if (!retryable && item.kind === 'mail.send') {
          await deps.db.update(mailLog).set({ status: 'failed' }).where(eq(mailLog.id, Number(item.payload.mailId)));
        }
      }
    }),
  );
  return done;
}
