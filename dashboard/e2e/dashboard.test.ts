import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeWith, needs } from '../../service/test/support/requires.js';
import { createAdmin } from '../../service/test/support/context.js';
import { payload } from '../../service/test/support/factories.js';
import { sha256 } from '../../service/test/support/litellm-fake.js';
import { SYSTEM_ACTOR } from '../../service/src/domain/actor.js';
import { login, newPage, shot, startHarness, type Harness } from './support.js';

/** Console errors that matter: CSP violations and exceptions, not 404s of endpoints not built yet. */
const real = (errors: string[]) => errors.filter((e) => !/Failed to load resource/.test(e));
const digits = (s: string | null) => Number((s ?? '').replace(/\D/g, ''));

describeWith('dashboard in a real browser', [needs.chromium()], () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => {
    await h?.close();
  });

  it('log in, create a person (key shown once), add credits, see usage, export CSV, change the factor', async () => {
    const { page, errors, close } = await newPage(h);
    await page.goto(`${h.origin}/`);
    await page.waitForSelector('input[name=email]');
    await shot(page, 'login-1280');

    // A wrong password shows the service's message.
    await page.fill('input[name=email]', h.adminEmail);
    await page.fill('input[name=password]', 'wrong password here');
    await page.click('button[type=submit]');
    await page.waitForSelector('.form-error');

    await login(page, h.origin, h.adminEmail);
    expect(await page.textContent('[data-testid=who]')).toContain('administrador');
    await page.waitForSelector('.kpis');
    await shot(page, 'overview-empty-1280');

    // Create a person: the LiteLLM key appears once.
    await page.click('.sidenav a[href="/people"]');
    await page.waitForSelector('text=Ninguém encontrado');
    await page.click('button:has-text("Nova pessoa")');
    await page.fill('.modal input[name=name]', 'Ana Souza');
    await page.fill('.modal input[name=email]', 'ana.souza@example.com');
    await page.click('.modal button[type=submit]');
    const secret = (await page.textContent('[data-testid=secret]'))?.trim() ?? '';
    expect(secret).toMatch(/^sk-/);
    expect(await page.textContent('.modal')).toContain('não vai vê-la de novo');
    await shot(page, 'key-once-1280');
    await page.click('.modal .form-actions .btn-primary');
    await page.waitForSelector('.modal', { state: 'detached' });

    // Server-side search, then open the person.
    await page.fill('input[type=search]', 'souza');
    await page.waitForURL(/search=souza/);
    await page.click('a:has-text("Ana Souza")');
    await page.waitForSelector('[data-testid=balance]');
    expect(digits(await page.textContent('[data-testid=balance]'))).toBe(1_000_000);

    // Add credits with a confirmation step.
    await page.click('button:has-text("Adicionar tokens")');
    await page.fill('.modal input[name=amount]', '250.000');
    await page.fill('.modal input[name=reason]', 'bônus do projeto');
    await page.click('.modal button:has-text("Revisar")');
    expect(await page.textContent('.modal .confirm-text')).toContain('250.000');
    await shot(page, 'credits-confirm-1280');
    await page.click('.modal button:has-text("Confirmar e adicionar")');
    await page.waitForSelector('.modal', { state: 'detached' });
    await page.waitForFunction(() => document.querySelector('[data-testid=balance]')?.textContent?.includes('1.250.000'));

    // Usage arrives from LiteLLM: 0.0376 USD at factor 0.376 = 100,000 credits.
    const hash = sha256(secret);
    const res = await h.ctx.webhook([payload(hash, 0.0376, { model: 'gpt-4o', model_group: 'gpt-4o' }), payload(hash, 0.00376)]);
    expect(res.status).toBeLessThan(300);
    await page.reload();
    await page.waitForSelector('[data-testid=balance]');
    expect(digits(await page.textContent('[data-testid=balance]'))).toBe(1_140_000);
    await page.waitForSelector('.chart-svg rect', { state: 'attached' });
    await shot(page, 'person-1280');

    // Statement CSV export (client-side).
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('button:has-text("Exportar CSV")')]);
    const csv = readFileSync((await download.path())!, 'utf8');
    expect(csv).toContain('id,createdAt,kind,amount');
    expect(csv).toMatch(/topup,250000,0,250000/);
    expect(csv.match(/,usage,/g)).toHaveLength(2);

    // Conversion factor: preview, then apply.
    await page.click('.sidenav a[href="/settings"]');
    await page.waitForSelector('[data-testid=factor]');
    expect(await page.textContent('[data-testid=factor]')).toBe('0.376');
    await page.fill('input[name=factor]', '0,5');
    await page.click('button:has-text("Prever efeito")');
    await page.waitForSelector('[data-testid=factor-preview]');
    expect(await page.textContent('[data-testid=factor-preview]')).toContain('Ana Souza');
    await page.fill('input[name=factor-reason]', 'novo preço médio');
    await shot(page, 'settings-preview-1280');
    await page.click('button:has-text("Aplicar novo fator")');
    await page.waitForFunction(() => document.querySelector('[data-testid=factor]')?.textContent === '0.5');
    await page.waitForSelector('text=novo preço médio');

    // The other screens render (empty, or "not available yet" where the endpoint is missing).
    for (const [path, name] of [
      ['/', 'overview'],
      ['/people', 'people'],
      ['/alerts', 'alerts'],
      ['/mail', 'mail'],
      ['/audit', 'audit'],
      ['/reports', 'reports'],
      ['/settings', 'settings'],
    ] as const) {
      await page.click(`.sidenav a[href="${path}"]`);
      await page.waitForSelector('.page h1');
      await page.waitForFunction(() => !document.querySelector('.state-loading'));
      await shot(page, `${name}-1280`);
    }
    // Audit shows the credit top-up with its before/after.
    await page.click('.sidenav a[href="/audit"]');
    await page.waitForSelector('.audit-list');
    expect(await page.textContent('.audit-list')).toContain('user.create');

    // Reports: the CSV download link is authenticated by the session cookie.
    await page.click('.sidenav a[href="/reports"]');
    await page.waitForSelector('.page h1');
    const href = await page.getAttribute('a[download]', 'href');
    const report = await page.evaluate(async (u) => (await fetch(u!)).text(), href);
    expect(report.split('\n')[0]).toBe('day,email,name,model,calls,tokens,credits,usd');
    expect(report).toContain('ana.souza@example.com');

    // English, persisted.
    await page.selectOption('.topbar select.locale', 'en');
    await page.waitForSelector('.sidenav a:has-text("People")');
    await page.reload();
    await page.waitForSelector('.sidenav a:has-text("People")');
    await page.selectOption('.topbar select.locale', 'pt-BR');

    // Logout returns to the login screen.
    await page.click('button:has-text("Sair")');
    await page.waitForSelector('input[name=password]');
    expect(real(errors)).toEqual([]);
    await close();
  });

  it('a viewer sees no mutation buttons', async () => {
    const email = `viewer-${Date.now()}@example.com`;
    await h.ctx.deps.db.transaction((tx) => createAdmin(tx, SYSTEM_ACTOR, {}, { email, name: 'Vera Viewer', role: 'viewer', password: 'viewer password 12345' }));
    const person = await h.ctx.api('POST', '/api/users', { email: `p-${Date.now()}@example.com`, name: 'Paulo Lima' });
    const { id } = await person.json();
    const { page, errors, close } = await newPage(h);
    await login(page, h.origin, email, 'viewer password 12345');
    expect(await page.textContent('[data-testid=who]')).toContain('leitura');
    await page.click('.sidenav a[href="/people"]');
    await page.waitForSelector('.people-table');
    expect(await page.locator('button:has-text("Nova pessoa")').count()).toBe(0);
    await page.goto(`${h.origin}/people/${id}`);
    await page.waitForSelector('[data-testid=balance]');
    for (const label of ['Adicionar tokens', 'Excluir', 'Girar chave', 'Suspender', 'Mudar plano']) {
      expect(await page.locator(`button:has-text("${label}")`).count(), label).toBe(0);
    }
    await page.click('.sidenav a[href="/settings"]');
    await page.waitForSelector('[data-testid=factor]');
    expect(await page.locator('button:has-text("Prever efeito")').count()).toBe(0);
    expect(await page.locator('button:has-text("Criar token")').count()).toBe(0);
    await shot(page, 'viewer-settings-1280');
    expect(real(errors)).toEqual([]);
    await close();
  });

  it('works on a phone (390px)', async () => {
    for (let i = 0; i < 3; i++) await h.ctx.api('POST', '/api/users', { email: `m${i}-${Date.now()}@example.com`, name: `Mobile Person ${i}` });
    const { page, errors, close } = await newPage(h, 390, 844);
    await page.goto(`${h.origin}/`);
    await page.waitForSelector('input[name=email]');
    await shot(page, 'login-390');
    await login(page, h.origin, h.adminEmail);
    await page.waitForSelector('.kpis');
    await shot(page, 'overview-390');
    await page.click('.menu-btn');
    await shot(page, 'menu-390');
    await page.click('.sidenav a[href="/people"]');
    await page.waitForSelector('.people-table');
    await shot(page, 'people-390');
    const scrollW = await page.evaluate(() => document.documentElement.scrollWidth);
    expect(scrollW).toBeLessThanOrEqual(390);
    await page.click('.people-table a >> nth=0');
    await page.waitForSelector('[data-testid=balance]');
    await shot(page, 'person-390');
    await page.click('button:has-text("Adicionar tokens")');
    await shot(page, 'credits-390');
    await page.keyboard.press('Escape');
    await page.click('.menu-btn');
    await page.click('.sidenav a[href="/settings"]');
    await page.waitForSelector('[data-testid=factor]');
    await shot(page, 'settings-390');
    expect(real(errors)).toEqual([]);
    await close();
  });
});
