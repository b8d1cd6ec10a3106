/**
 * Whole-app test harness: the real service in-process (PostgreSQL when TEST_DATABASE_URL is set,
 * else PGlite) serving the built dashboard, the LiteLLM contract fake for key provisioning, and
 * Chromium driven by playwright-core: Debian's /usr/bin/chromium when present, else the one in the
 * npm package @sparticuz/chromium (COMPANION_TEST_CHROMIUM=sparticuz|<path> chooses; see
 * service/test/support/chromium.ts).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { serve } from '@hono/node-server';
import { chromium, type Browser, type Page } from 'playwright-core';
import { chromiumLaunchOptions } from '../../service/test/support/chromium.js';
import { createTestContext, type TestContext } from '../../service/test/support/context.js';
import { startLiteLLMFake, type LiteLLMFake } from '../../service/test/support/litellm-fake.js';

const here = dirname(fileURLToPath(import.meta.url));
export const DASHBOARD = resolve(here, '..');
export const DIST = join(DASHBOARD, 'dist');
export const SHOTS = join(here, 'screenshots');
export const ADMIN_PASSWORD = 'correct horse battery staple';

function newestMtime(dir: string): number {
  let max = 0;
  for (const name of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, name.name);
    max = Math.max(max, name.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return max;
}

/** Build dashboard/dist when it is missing or older than the sources. */
export function ensureBuilt() {
  const index = join(DIST, 'index.html');
  const sources = Math.max(newestMtime(join(DASHBOARD, 'src')), statSync(join(DASHBOARD, 'index.html')).mtimeMs, statSync(join(DASHBOARD, 'vite.config.ts')).mtimeMs);
  if (existsSync(index) && statSync(index).mtimeMs >= sources) return;
  const r = spawnSync('npx', ['vite', 'build', '--config', 'dashboard/vite.config.ts'], { cwd: resolve(DASHBOARD, '..'), encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`dashboard build failed:\n${r.stdout}\n${r.stderr}`);
}

export interface Harness {
  ctx: TestContext;
  fake: LiteLLMFake;
  origin: string;
  browser: Browser;
  adminEmail: string;
  close(): Promise<void>;
}

export async function startHarness(opts: { env?: Record<string, string> } = {}): Promise<Harness> {
  ensureBuilt();
  const masterKey = 'sk-master-e2e-0123456789';
  const fake = await startLiteLLMFake({ masterKey });
  const ctx = await createTestContext({ env: { DASHBOARD_DIR: DIST, LITELLM_URL: fake.url, LITELLM_MASTER_KEY: masterKey, ...opts.env } });
  const server = serve({ fetch: ctx.app.fetch, port: 0, hostname: '127.0.0.1' });
  await new Promise<void>((r) => (server.listening ? r() : server.once('listening', () => r())));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const { executablePath, args } = await chromiumLaunchOptions();
  const browser = await chromium.launch({ executablePath, args });
  mkdirSync(SHOTS, { recursive: true });
  return {
    ctx,
    fake,
    origin,
    browser,
    adminEmail: ctx.deps.config.ADMIN_EMAIL,
    async close() {
      await browser.close();
      await new Promise((r) => server.close(r));
      await ctx.close();
      await fake.close();
    },
  };
}

/** A fresh page (own cookies) at a width; console errors and CSP violations are collected. */
export async function newPage(h: Harness, width = 1280, height = 900) {
  const context = await h.browser.newContext({ viewport: { width, height }, locale: 'pt-BR', acceptDownloads: true });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
  page.on('pageerror', (e) => errors.push(String(e)));
  return { page, errors, close: () => context.close() };
}

export async function login(page: Page, origin: string, email: string, password = ADMIN_PASSWORD) {
  await page.goto(origin + '/');
  await page.fill('input[name=email]', email);
  await page.fill('input[name=password]', password);
  await page.click('button[type=submit]');
  await page.waitForSelector('[data-testid=who]');
}

export async function shot(page: Page, name: string) {
  await page.waitForTimeout(150);
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}
