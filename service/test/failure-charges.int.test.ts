import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import { rows } from '../src/db/client.js';
import { usdToNano } from '../src/domain/money.js';
import { reconcile } from '../src/jobs/reconcile.js';
import { uniq } from './support/factories.js';
import { balanceOf, expectLedgerConsistent } from './support/invariants.js';
import { startStack, type Stack } from './support/stack.js';

/**
 * What LiteLLM charges a key for failed calls, booked exactly once. The payloads are what the REAL
 * proxy (1.103.7) delivered through our durable callback, and `litellm_spend_rows` what LiteLLM's
 * own _ProxyDBLogger wrote for the same calls (litellm/tests/test_failure_charges.py, which checks
 * Σ events == Σ rows per call against the running proxy): a read timeout retried twice (rows
 * <id>, <id>-attempt-0, <id>-attempt-1; the failure event says 0, the callback adds <id>-billed and
 * the two attempts), a client disconnect (499; <id>-billed) and a broken stream (its failure event
 * carries the cost already). Only key hashes and start times are replaced.
 *
 * At f = 0.376 (milli-credits = nano-USD × 10⁶ / 376,000, half-up):
 *   100,000 nUSD → 265,957 (265,957.44…)   110,000 → 292,553 (292,553.19…)   150,000 → 398,936 (398,936.17…)
 */
const fixture = JSON.parse(readFileSync(new URL('./fixtures/litellm-failure-charges.json', import.meta.url), 'utf8')) as {
  litellm: string;
  litellm_spend_rows: { request_id: string; response_cost: number }[];
  events: Record<string, any>[];
};
const SUFFIX = /-(attempt-\d+|billed)$/;
const callOf = (id: string) => id.replace(SUFFIX, '');

let s: Stack;
beforeAll(async () => {
  s = await startStack();
});
afterAll(() => s.close());

async function person() {
  const u = (await (await s.ctx.api('POST', '/api/users', { email: `fc-${uniq()}@example.com`, name: 'F' })).json()) as {
    id: string;
    key: { id: string; plaintext: string };
  };
  return { ...u, hash: s.fake.getKey(u.key.plaintext)!.token };
}

/** The captured events for `hash`, moved to just now (same offsets between them). */
function captured(hash: string) {
  const events = structuredClone(fixture.events);
  const last = Math.max(...events.map((e) => Number(e.startTime)));
  const shift = Date.now() / 1000 - 5 - last;
  for (const e of events) {
    e.metadata.user_api_key_hash = hash;
    e.startTime = Number(e.startTime) + shift;
    e.endTime = Number(e.endTime) + shift;
  }
  return events;
}

/** LiteLLM's spend rows for the same calls, at the shifted start times of their calls. */
function spendRows(events: Record<string, any>[]) {
  const start = new Map(events.map((e) => [e.litellm_call_id as string, e.startTime as number]));
  return fixture.litellm_spend_rows.map((r) => ({ request_id: r.request_id, spend: r.response_cost, startTime: start.get(callOf(r.request_id))! }));
}

const calls = () => {
  const timedOut = fixture.events.find((e) => e.error_information?.error_code === '408' && !SUFFIX.test(e.litellm_call_id))!.litellm_call_id as string;
  const disconnected = fixture.events.find((e) => e.error_information?.error_code === '499' && !SUFFIX.test(e.litellm_call_id))!.litellm_call_id as string;
  const broken = fixture.events.find((e) => e.error_information?.error_class === 'ReadError')!.litellm_call_id as string;
  return { timedOut, disconnected, broken };
};

async function booked(hash: string) {
  return rows<{ call: string; status: string; cost_nano: string; debit_milli: string; prompt_tokens: number }>(
    s.ctx.deps.db,
    sql`select litellm_call_id as call, status, cost_nano::text, debit_milli::text, prompt_tokens from usage_events where key_hash = ${hash} order by litellm_call_id`,
  );
}

/** What a reconciliation run found for one key, besides budget re-pushes (the stack's fake is not kept in step). */
const findings = (run: { items: unknown }, keyId: string) =>
  (run.items as { keyId: string; action: string }[]).filter((i) => i.keyId === keyId && i.action !== 'budget_repushed');

describe('failed calls: what LiteLLM charges beyond the failure event', () => {
  it('the payloads come from the pinned LiteLLM, and the events add up to its spend rows per call', () => {
    expect(fixture.litellm).toBe('1.103.7');
    const sum = (list: [string, number | string][]) => {
      const m = new Map<string, number>();
      for (const [id, cost] of list) m.set(callOf(id), (m.get(callOf(id)) ?? 0) + usdToNano(cost));
      return Object.fromEntries(m);
    };
    const { timedOut, disconnected, broken } = calls();
    const charged = sum(fixture.litellm_spend_rows.map((r) => [r.request_id, r.response_cost]));
    expect(charged).toEqual({ [timedOut]: 300_000, [disconnected]: 110_000, [broken]: 150_000 });
    expect(sum(fixture.events.map((e) => [e.litellm_call_id, e.response_cost]))).toEqual(charged);
  });

  it('books the attempts and the billed difference once each, at LiteLLM exact cost, shown as timed out / cancelled', async () => {
    const p = await person();
    const events = captured(p.hash);
    expect(await (await s.ctx.webhook(events)).json()).toEqual({ accepted: 7, duplicate: 0, unattributed: 0, rejected: 0 });
    // re-delivered (the spool retries at least once), in another order: all duplicates
    expect(await (await s.ctx.webhook([...events].reverse())).json()).toEqual({ accepted: 0, duplicate: 7, unattributed: 0, rejected: 0 });
    const { timedOut, disconnected, broken } = calls();
    expect(await booked(p.hash)).toEqual(
      [
        { call: timedOut, status: 'failure', cost_nano: '0', debit_milli: '0', prompt_tokens: 0 },
        { call: `${timedOut}-attempt-0`, status: 'failure', cost_nano: '100000', debit_milli: '265957', prompt_tokens: 10 },
        { call: `${timedOut}-attempt-1`, status: 'failure', cost_nano: '100000', debit_milli: '265957', prompt_tokens: 10 },
        { call: `${timedOut}-billed`, status: 'failure', cost_nano: '100000', debit_milli: '265957', prompt_tokens: 10 },
        { call: disconnected, status: 'failure', cost_nano: '0', debit_milli: '0', prompt_tokens: 0 },
        { call: `${disconnected}-billed`, status: 'failure', cost_nano: '110000', debit_milli: '292553', prompt_tokens: 11 },
        { call: broken, status: 'failure', cost_nano: '150000', debit_milli: '398936', prompt_tokens: 9 },
      ].sort((a, b) => (a.call < b.call ? -1 : 1)),
    );
    expect((await balanceOf(s.ctx.deps.db, p.id)).used).toBe(3 * 265_957 + 292_553 + 398_936);

    // the statement: one entry per charge, each saying what the call was (dashboard i18n:
    // outcome.timed_out "timed out" / "tempo esgotado", outcome.cancelled "cancelled" / "cancelada")
    const ledger = await (await s.ctx.api('GET', `/api/users/${p.id}/ledger?kind=usage`)).json();
    const entries = (ledger.items as { amount: number; usd: number; outcome: string }[]).map((e) => [e.amount, e.outcome]).sort();
    expect(entries).toEqual(
      [
        [-265.957, 'timed_out'],
        [-265.957, 'timed_out'],
        [-265.957, 'timed_out'],
        [-292.553, 'cancelled'],
        [-398.936, 'interrupted'],
      ].sort(),
    );
    await expectLedgerConsistent(s.ctx.deps.db);
  });

  it('the reconciler sees the attempts in /spend/logs as booked and does not re-book a row a -billed supplement covers', async () => {
    // all delivered: LiteLLM's spend = the ledger's, nothing to recover or report
    const p = await person();
    const events = captured(p.hash);
    await s.ctx.webhook(events);
    s.fake.chargeFailure(p.key.plaintext, spendRows(events));
    const run1 = await reconcile(s.ctx.deps, { graceMinutes: 0, settleSeconds: 0 });
    expect(findings(run1, p.key.id)).toEqual([]);

    // the timeout's own failure event (cost 0) never arrived: its row <id> (100,000 nUSD) is all
    // in <id>-billed, so recovery books nothing for it; the attempts are matched by their ids
    const q = await person();
    const { timedOut } = calls();
    const all = captured(q.hash);
    await s.ctx.webhook(all.filter((e) => e.litellm_call_id !== timedOut));
    s.fake.chargeFailure(q.key.plaintext, spendRows(all));
    const before = (await balanceOf(s.ctx.deps.db, q.id)).used;
    const run2 = await reconcile(s.ctx.deps, { graceMinutes: 0, settleSeconds: 0 });
    expect(findings(run2, q.key.id)).toEqual([]); // neither recovered nor unexplained
    expect((await balanceOf(s.ctx.deps.db, q.id)).used).toBe(before);

    // a row only partly covered: LiteLLM's row 250,000 nUSD, the lost failure event carried
    // 150,000 and the supplement 100,000: recovery books exactly the 150,000
    const r = await person();
    const [base] = captured(r.hash).filter((e) => e.litellm_call_id === timedOut);
    const supplement = { ...base, id: `${base!.id}-billed`, litellm_call_id: `${base!.litellm_call_id}-billed`, response_cost: '0.000100000' };
    await s.ctx.webhook([supplement]);
    s.fake.chargeFailure(r.key.plaintext, [{ request_id: base!.id, spend: 0.00025, startTime: base!.startTime }]);
    const run3 = await reconcile(s.ctx.deps, { graceMinutes: 0, settleSeconds: 0 });
    expect(run3.items as unknown[]).toContainEqual(expect.objectContaining({ keyId: r.key.id, action: 'recovered' }));
    const recovered = await rows<{ provider_id: string; cost_nano: string }>(
      s.ctx.deps.db,
      sql`select provider_id, cost_nano::text from usage_events where key_hash = ${r.hash} and recovered`,
    );
    expect(recovered).toEqual([{ provider_id: base!.id, cost_nano: '150000' }]);
    const spent = await rows<{ spend_nano: string }>(s.ctx.deps.db, sql`select spend_nano::text from keys where id = ${r.key.id}`);
    expect(spent[0]!.spend_nano).toBe(String(usdToNano(s.fake.getKey(r.key.plaintext)!.spend)));
    const again = await reconcile(s.ctx.deps, { graceMinutes: 0, settleSeconds: 0 });
    expect(findings(again, r.key.id)).toEqual([]);
    await expectLedgerConsistent(s.ctx.deps.db);
  });
});
