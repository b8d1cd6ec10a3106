import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';

/**
 * Which Chromium the browser tests drive (playwright-core):
 * - COMPANION_TEST_CHROMIUM=sparticuz → the Chromium shipped in the npm package @sparticuz/chromium;
 *   COMPANION_TEST_CHROMIUM=<path> → that executable;
 * - unset → Debian's /usr/bin/chromium when present, else @sparticuz/chromium (a devDependency, so a
 *   bare machine with only Node and npm has a browser after `npm install`).
 */
export type ChromiumSource = { kind: 'path'; path: string } | { kind: 'sparticuz' };

const DEBIAN = '/usr/bin/chromium';

function sparticuzInstalled(): boolean {
  try {
    createRequire(import.meta.url).resolve('@sparticuz/chromium');
    return true;
  } catch {
    return false;
  }
}

export function chromiumSource(): ChromiumSource | undefined {
  const choice = process.env.COMPANION_TEST_CHROMIUM?.trim();
  if (choice === 'sparticuz') return sparticuzInstalled() ? { kind: 'sparticuz' } : undefined;
  if (choice) return existsSync(choice) ? { kind: 'path', path: choice } : undefined;
  if (existsSync(DEBIAN)) return { kind: 'path', path: DEBIAN };
  return sparticuzInstalled() ? { kind: 'sparticuz' } : undefined;
}

/**
 * Flags of @sparticuz/chromium (made for one page per serverless call) that the tests must not
 * have: two turn browser security off (the tests must see CSP and same-origin rules as people's
 * browsers apply them), and --single-process ends the whole browser when a test closes its first
 * browser context.
 */
const UNWANTED = new Set(['--disable-web-security', '--allow-running-insecure-content', '--single-process']);

/** executablePath and args for playwright-core's chromium.launch(). */
export async function chromiumLaunchOptions(): Promise<{ executablePath: string; args: string[]; source: string }> {
  const source = chromiumSource();
  if (!source) throw new Error(`no Chromium: install Debian's chromium or the npm devDependency @sparticuz/chromium (COMPANION_TEST_CHROMIUM=${process.env.COMPANION_TEST_CHROMIUM ?? ''})`);
  const common = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
  if (source.kind === 'path') return { executablePath: source.path, args: common, source: source.path };
  const { default: sparticuz } = await import('@sparticuz/chromium');
  return {
    executablePath: await sparticuz.executablePath(),
    args: sparticuz.args.filter((a) => !UNWANTED.has(a)),
    source: '@sparticuz/chromium',
  };
}
