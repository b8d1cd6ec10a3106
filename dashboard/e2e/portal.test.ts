import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeWith, needs } from '../../service/test/support/requires.js';
import { startStripeFake, stripeEnv, type StripeFake } from '../../service/test/support/stripe-fake.js';
import { newPage, shot, startHarness, type Harness } from './support.js';

/** Console errors that matter: CSP violations and exceptions, not expected 401s while signed out. */
const real = (errors: string[]) => errors.filter((e) => !/Failed to load resource/.test(e));
const digits = (s: string | null) => Number((s ?? '').replace(/\D/g, ''));

describeWith('self-service portal in a real browser', [needs.chromium()], () => {
  let h: Harness;
  let stripe: StripeFake;
  beforeAll(async () => {
    stripe = await startStripeFake();
    h = await startHarness({ env: stripeEnv(stripe) });
  });
  afterAll(async () => {
    await h?.close();
    await stripe?.close();
  });

  it('sign in with the key, see the balance, rotate the key, buy a pack, see the balance rise', async () => {
    const created = await (await h.ctx.api('POST', '/api/users', { email: 'bia@example.com', name: 'Bia Lima' })).json();
    const key: string = created.key.plaintext;
    const pack = await (await h.ctx.api('POST', '/api/packs', { name: 'Pacote 500 mil', tokens: 500_000, priceMinor: 2990, currency: 'brl' })).json();
    await h.ctx.api('POST', '/api/packs', { name: 'Pacote 2 milhões', tokens: 2_000_000, priceMinor: 9990, currency: 'brl' });

    const { page, errors, close } = await newPage(h);
    await page.goto(`${h.origin}/me`);
    await page.waitForSelector('input[name=portal-key]');
    await shot(page, 'portal-signin-1280');

    // A wrong key shows the service's message; the right one signs in.
    await page.fill('input[name=portal-key]', 'sk-not-a-real-key');
    await page.click('form:has(input[name=portal-key]) button[type=submit]');
    await page.waitForSelector('.form-error');
    await page.fill('input[name=portal-key]', key);
    await page.click('form:has(input[name=portal-key]) button[type=submit]');
    await page.waitForSelector('[data-testid=balance]');
    expect(digits(await page.textContent('[data-testid=balance]'))).toBe(1_000_000);
    expect(await page.textContent('[data-testid=who]')).toContain('Bia Lima');
    expect(await page.locator('[data-testid=pack]').count()).toBe(2);
    await shot(page, 'portal-home-1280');

    // Rotate: the new key is shown once, with how to paste it into LibreChat.
    await page.click('button:has-text("Gerar nova chave")');
    await page.click('.inline-confirm .btn-primary');
    const secret = (await page.textContent('[data-testid=secret]'))?.trim() ?? '';
    expect(secret).toMatch(/^sk-/);
    expect(secret).not.toBe(key);
    expect(await page.textContent('.modal')).toContain('LibreChat');
    await shot(page, 'portal-key-once-1280');
    await page.click('.modal .form-actions .btn-primary');
    await page.waitForSelector('.modal', { state: 'detached' });
    await page.waitForFunction((tail) => document.querySelector('[data-testid=key-hint]')?.textContent?.endsWith(tail), secret.slice(-4));

    // Buy: the browser goes to the Checkout URL the (local) Stripe answered with.
    await page.route('https://checkout.stripe.com/**', (route) => route.fulfill({ contentType: 'text/html', body: '<!doctype html><title>Checkout</title><p>Stripe Checkout (test)</p>' }));
    await page.click(`[data-testid=pack]:has-text("Pacote 500 mil") button`);
    await page.waitForURL(/^https:\/\/checkout\.stripe\.com\/c\/pay\/cs_test_/);
    const sessionId = /\/(cs_test_\w+)/.exec(page.url())![1]!;
    expect(stripe.sessions.get(sessionId)?.metadata).toMatchObject({ pack_id: pack.id, person_id: created.id });

    // Stripe calls the webhook (signed with the SDK's test helper); the person comes back.
    const signed = stripe.sign(stripe.completedEvent(sessionId));
    const hook = await fetch(`${h.origin}/webhooks/stripe`, { method: 'POST', headers: { 'stripe-signature': signed.header, 'content-type': 'application/json' }, body: signed.payload });
    expect(hook.status).toBe(200);
    await page.goto(`${h.origin}/me?checkout=success&session_id=${sessionId}`);
    await page.waitForSelector('[data-testid=balance]');
    expect(digits(await page.textContent('[data-testid=balance]'))).toBe(1_500_000);
    expect(digits(await page.textContent('[data-testid=purchased]'))).toBe(500_000);
    expect(await page.textContent('.notice')).toContain('Pagamento recebido');
    expect(await page.textContent('[data-testid=statement]')).toContain('Recarga');
    await shot(page, 'portal-after-purchase-1280');
    await page.setViewportSize({ width: 390, height: 844 });
    await shot(page, 'portal-after-purchase-390');

    // English, and signing out
    await page.selectOption('select.locale', 'en');
    await page.waitForSelector('text=Your balance');
    await page.click('button:has-text("Sign out")');
    await page.waitForSelector('input[name=portal-key]');
    expect(real(errors)).toEqual([]);
    await close();
  });

  it('at 100% the next step is obvious, and the admin app still works beside it', async () => {
    const plan = await (await h.ctx.api('POST', '/api/plans', { slug: 'tiny', name: 'Tiny', monthlyCredits: 100 })).json();
    const created = await (await h.ctx.api('POST', '/api/users', { email: 'caio@example.com', name: 'Caio', plan: plan.slug })).json();
    // Use it all: 100 credits of usage booked directly through the usage webhook
    const { payload } = await import('../../service/test/support/factories.js');
    const { sha256 } = await import('../../service/test/support/litellm-fake.js');
    expect((await h.ctx.webhook([payload(sha256(created.key.plaintext), 0.0000376)])).status).toBe(200);
    const { page, errors, close } = await newPage(h, 390, 844);
    await page.goto(`${h.origin}/me`);
    await page.fill('input[name=portal-key]', created.key.plaintext);
    await page.click('form:has(input[name=portal-key]) button[type=submit]');
    await page.waitForSelector('[data-testid=next-step]');
    expect(await page.textContent('[data-testid=next-step]')).toContain('Compre um pacote');
    // The facts LibreChat's refusal message states: used of available, the refill day and zone.
    expect(await page.textContent('[data-testid=used-of]')).toBe('100 de 100');
    expect(await page.textContent('[data-testid=refill]')).toMatch(/^1 de \S+ de \d{4} \(UTC\)$/);
    expect(await page.textContent('[data-testid=next-step]')).toContain('No LibreChat, cada nova mensagem recebe esta mesma explicação');
    await shot(page, 'portal-blocked-390-pt');
    await page.setViewportSize({ width: 1280, height: 900 });
    await shot(page, 'portal-blocked-1280-pt');
    await page.selectOption('select.locale', 'en');
    await page.waitForSelector('text=Your balance');
    expect(await page.textContent('[data-testid=used-of]')).toBe('100 of 100');
    expect(await page.textContent('[data-testid=refill]')).toMatch(/^\w+ 1, \d{4} \(UTC\)$/);
    expect(await page.textContent('[data-testid=next-step]')).toContain('In LibreChat, every new message gets this same explanation');
    await shot(page, 'portal-blocked-1280-en');
    await page.setViewportSize({ width: 390, height: 844 });
    await shot(page, 'portal-blocked-390-en');
    await page.goto(`${h.origin}/`);
    await page.waitForSelector('input[name=password]');
    expect(real(errors)).toEqual([]);
    await close();
  });
});
