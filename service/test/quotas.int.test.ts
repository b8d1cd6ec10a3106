import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import { loadConfig } from '../src/config.js';
import { createDeps } from '../src/deps.js';
import { openPostgres, rows } from '../src/db/client.js';
import { runRollover } from '../src/domain/periods/rollover.js';
import { drainOutbox } from '../src/jobs/outbox.js';
import { manualClock } from '../src/lib/clock.js';
import { createLogger } from '../src/lib/logger.js';
import { createTestContext, type TestContext } from './support/context.js';
import { attachKey, makeUser, payload, uniq } from './support/factories.js';
import { balanceOf, expectLedgerConsistent } from './support/invariants.js';
import { startResendCapture } from './support/resend-capture.js';

const clock = manualClock('2026-01-10T12:00:00Z');
let ctx: TestContext;
let resend: Awaited<ReturnType<typeof startResendCapture>>;

beforeAll(async () => {
  resend = await startResendCapture();
  ctx = await createTestContext({
    clock,
    env: { TIMEZONE: 'America/Sao_Paulo', RESEND_API_KEY: 're_test_key', RESEND_BASE_URL: resend.url, MAIL_FROM: 'Créditos <creditos@example.com>', ADMIN_EMAIL: 'ops@example.com' },
  });
  await ctx.api('POST', '/api/plans', { slug: 'tt', name: 'TT', monthlyCredits: 10_000 });
  await ctx.api('POST', '/api/plans', { slug: 'tt2', name: 'TT2', monthlyCredits: 20_000 });
});
afterAll(async () => {
  await ctx.close();
  await resend.close();
});

/** Usage costing `credits` at factor f (µUSD per credit), booked now. */
const use = (hash: string, credits: number, f = 0.376, extra = {}) =>
  payload(hash, Number(((credits * f) / 1e6).toPrecision(12)), { startTime: clock.now().getTime() / 1000, ...extra });
const book = async (...items: unknown[]) => {
  const res = await ctx.webhook(items);
  expect(res.status).toBe(200);
  return res.json();
};
const topUp = (id: string, amount: number) =>
  ctx.api('POST', `/api/users/${id}/credits`, { amount, reason: 'top-up' }, { headers: { 'idempotency-key': uniq() } });
const credits = async (id: string) => {
  const b = await balanceOf(ctx.deps.db, id);
  return { monthly: b.monthly / 1000, topup: b.topup / 1000, used: b.used / 1000, state: b.state };
};
const sendMails = async () => {
  while ((await drainOutbox(ctx.deps)) > 0);
};

describe('a person across three months', () => {
  it('keeps exact totals through top-ups, overshoot, a plan change and a factor change', async () => {
    const u = await makeUser(ctx, { plan: 'tt', name: 'Joana' });
    const { hash } = await attachKey(ctx, u.id);
    expect(await credits(u.id)).toEqual({ monthly: 10_000, topup: 0, used: 0, state: 'ok' });

    // January: 7 × 1,000 credits → 70 %, no alert
    for (let i = 0; i < 7; i++) await book(use(hash, 1000));
    expect(await credits(u.id)).toEqual({ monthly: 3_000, topup: 0, used: 7_000, state: 'ok' });
    // → 80 %: one alert, replayed event → still one
    const crossing = use(hash, 1000);
    await book(crossing);
    await book(crossing, crossing);
    expect(await credits(u.id)).toEqual({ monthly: 2_000, topup: 0, used: 8_000, state: 'warned' });
    // a top-up brings usage back under 80 %: re-armed
    await topUp(u.id, 5_000);
    expect(await credits(u.id)).toMatchObject({ monthly: 2_000, topup: 5_000, state: 'ok' });
    // 4,000 more: 2,000 from the allowance, 2,000 from top-ups → 12,000 / 15,000 = 80 % again
    await book(use(hash, 4000));
    expect(await credits(u.id)).toEqual({ monthly: 0, topup: 3_000, used: 12_000, state: 'warned' });
    await book(use(hash, 2500)); // 96.7 % → 95 %
    await book(use(hash, 1500)); // in-flight overshoot → debt, 100 %
    expect(await credits(u.id)).toEqual({ monthly: 0, topup: -1_000, used: 16_000, state: 'blocked' });

    // The plan change applies from the next period.
    await ctx.api('PATCH', `/api/users/${u.id}`, { plan: 'tt2' });

    // February, 00:30 in São Paulo: two service instances roll over at the same moment.
    clock.set('2026-02-01T03:30:00Z');
    const other = await secondInstance();
    const [a, b] = await Promise.all([runRollover(ctx.deps), runRollover(other)]);
    expect(a.periods + b.periods).toBeGreaterThanOrEqual(1);
    await other.close();
    // 20,000 granted, 1,000 of it pays the debt first
    expect(await credits(u.id)).toEqual({ monthly: 19_000, topup: 0, used: 0, state: 'ok' });
    const grants = await rows<{ n: string }>(ctx.deps.db, sql`select count(*) as n from ledger_entries where user_id = ${u.id} and kind = 'grant' and period_start = '2026-02-01'`);
    expect(Number(grants[0]!.n)).toBe(1);

    // The factor changes; 1,000 credits now cost 0.0005 USD.
    expect((await ctx.api('PUT', '/api/settings/conversion-factor', { factor: '0.5', reason: 'new prices' })).status).toBe(200);
    for (let i = 0; i < 3; i++) await book(use(hash, 1000, 0.5));
    expect(await credits(u.id)).toEqual({ monthly: 16_000, topup: 0, used: 3_000, state: 'ok' });

    // March: the unused 16,000 expire, 20,000 are granted; a top-up carries over.
    clock.set('2026-03-01T03:30:00Z');
    await runRollover(ctx.deps);
    expect(await credits(u.id)).toEqual({ monthly: 20_000, topup: 0, used: 0, state: 'ok' });
    await topUp(u.id, 1_000);
    await book(use(hash, 20_500, 0.5)); // 20,500 / 21,000 = 97.6 %: 80 % and 95 % at once, one email
    expect(await credits(u.id)).toEqual({ monthly: 0, topup: 500, used: 20_500, state: 'warned' });

    const ledger = await rows<{ kind: string; total: string }>(
      ctx.deps.db,
      sql`select kind, sum(amount_milli) as total from ledger_entries where user_id = ${u.id} group by kind order by kind`,
    );
    expect(Object.fromEntries(ledger.map((r) => [r.kind, Number(r.total) / 1000]))).toEqual({
      expiry: -16_000,
      grant: 50_000, // 10,000 + 20,000 + 20,000
      topup: 6_000,
      usage: -39_500, // 16,000 + 3,000 + 20,500
    });
    await expectLedgerConsistent(ctx.deps.db);

    // Alerts: Jan 80, 80 (re-armed), 95, 100; Mar 80 and 95 together.
    const alerts = (await (await ctx.api('GET', `/api/alerts?userId=${u.id}&pageSize=50`)).json()).items;
    expect(alerts.map((x: { period: string; threshold: number }) => `${x.period} ${x.threshold}`).reverse()).toEqual([
      '2026-01-01 80',
      '2026-01-01 80',
      '2026-01-01 95',
      '2026-01-01 100',
      '2026-03-01 80',
      '2026-03-01 95',
    ]);
    await sendMails();
    // different mails are sent concurrently: order them by mail id (the idempotency key)
    const mine = resend.mails.filter((m) => m.to === u.email).sort((x, y) => Number(x.idempotencyKey!.slice(5)) - Number(y.idempotencyKey!.slice(5)));
    expect(mine.map((m) => m.subject)).toEqual([
      'Você usou 80% dos seus tokens',
      'Você usou 80% dos seus tokens',
      'Você usou 95% dos seus tokens',
      'Seus tokens acabaram: o chat está pausado',
      'Você usou 95% dos seus tokens',
    ]);
    expect(mine.every((m) => m.from === 'Créditos <creditos@example.com>' && m.idempotencyKey?.startsWith('mail-'))).toBe(true);
    expect(mine[3]!.text).toContain('budget_exceeded');
    expect(mine[3]!.text).toContain('ops@example.com');
    expect(mine[3]!.text).toContain('1 de fevereiro de 2026'); // when the allowance renews
    const log = (await (await ctx.api('GET', `/api/mail?userId=${u.id}`)).json()).items;
    expect(log.every((m: { status: string }) => m.status === 'sent')).toBe(true);
  });

  it('projects the exhaustion date from the last 7 days in the 80 % email', async () => {
    clock.set('2026-03-10T12:00:00Z');
    const u = await makeUser(ctx, { plan: 'tt' });
    const { hash } = await attachKey(ctx, u.id);
    // 8,000 credits over the window → 8,000/7 a day; 2,000 left → 1.75 days → 12 Mar 06:00 UTC
    await book(use(hash, 8000, 0.5));
    await sendMails();
    const mail = resend.mails.find((m) => m.to === u.email)!;
    expect(mail.subject).toBe('Você usou 80% dos seus tokens');
    expect(mail.text).toContain('por volta de 12 de março de 2026');
    expect(mail.text).toContain('Restam 2.000 tokens');
  });

  it('writes emails only to the mail log without RESEND_API_KEY, and retries Resend failures', async () => {
    resend.failNext(1);
    const u = await makeUser(ctx, { plan: 'tt' });
    const { hash } = await attachKey(ctx, u.id);
    await book(use(hash, 10_000, 0.5));
    await drainOutbox(ctx.deps); // Resend answers 500: stays queued
    expect((await (await ctx.api('GET', `/api/mail?userId=${u.id}`)).json()).items[0]).toMatchObject({ status: 'queued' });
    await ctx.deps.db.execute(sql`update outbox set next_attempt_at = now() where status = 'pending'`);
    await sendMails();
    expect((await (await ctx.api('GET', `/api/mail?userId=${u.id}`)).json()).items[0]).toMatchObject({ status: 'sent' });
    expect(resend.mails.filter((m) => m.to === u.email)).toHaveLength(1);

    const plain = await createTestContext({ clock, env: { TIMEZONE: 'America/Sao_Paulo' } });
    try {
      await plain.api('POST', '/api/plans', { slug: 'tt', name: 'TT', monthlyCredits: 10_000 });
      const p = await makeUser(plain, { plan: 'tt' });
      const k = await attachKey(plain, p.id);
      await plain.webhook([use(k.hash, 10_000, 0.376)]);
      const logged = (await (await plain.api('GET', `/api/mail?userId=${p.id}`)).json()).items;
      expect(logged.map((m: { status: string; subject: string }) => [m.status, m.subject])).toEqual([['logged', 'Seus tokens acabaram: o chat está pausado']]);
      const outbox = await rows(plain.deps.db, sql`select id from outbox where kind = 'mail.send'`);
      expect(outbox).toEqual([]);
    } finally {
      await plain.close();
    }
  });

  it('lets admins reset one person’s period, and catches up missed months on start', async () => {
    clock.set('2026-03-20T12:00:00Z');
    const u = await makeUser(ctx, { plan: 'tt' });
    const { hash } = await attachKey(ctx, u.id);
    await book(use(hash, 9000, 0.5));
    const reset = await ctx.api('POST', `/api/users/${u.id}/period/reset`, { reason: 'support ticket' }, { headers: { 'idempotency-key': uniq() } });
    expect(reset.status).toBe(200);
    expect((await reset.json()).balance).toMatchObject({ monthlyRemaining: 10_000, usedThisPeriod: 0, state: 'active' });
    // down from March to May: both rollovers are caught up, period by period
    clock.set('2026-05-02T12:00:00Z');
    await runRollover(ctx.deps);
    const entries = await rows<{ kind: string; period_start: string; amount_milli: string }>(
      ctx.deps.db,
      sql`select kind, period_start::text, amount_milli from ledger_entries where user_id = ${u.id} and kind in ('grant', 'expiry') order by id`,
    );
    expect(entries.map((e) => `${e.kind} ${e.period_start} ${Number(e.amount_milli) / 1000}`)).toEqual([
      'grant 2026-03-01 10000',
      'expiry 2026-03-01 -1000',
      'grant 2026-03-01 10000',
      'expiry 2026-03-01 -10000',
      'grant 2026-04-01 10000',
      'expiry 2026-04-01 -10000',
      'grant 2026-05-01 10000',
    ]);
    await expectLedgerConsistent(ctx.deps.db);
  });
});

/** Another service instance on the same database (its own pool on PostgreSQL). */
async function secondInstance() {
  const config = loadConfig({ LOG_LEVEL: 'silent', TIMEZONE: 'America/Sao_Paulo', DASHBOARD_DIR: '/nonexistent' });
  const database = ctx.database.url ? await openPostgres(ctx.database.url, 5) : { ...ctx.database, close: async () => {} };
  return createDeps(config, { database, clock, log: createLogger('silent') });
}
