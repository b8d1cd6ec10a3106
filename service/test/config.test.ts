import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.js';

describe('loadConfig', () => {
  it('has working defaults (embedded database, port 8787, f = 0.376)', () => {
    const c = loadConfig({});
    expect(c.PORT).toBe(8787);
    expect(c.DATABASE_URL).toBeUndefined();
    expect(c.CONVERSION_FACTOR).toBe(376_000);
    expect(c.TIMEZONE).toBe('UTC');
  });
  it('names every bad variable', () => {
    try {
      loadConfig({ PORT: 'eighty', DATABASE_URL: 'mysql://x', CONVERSION_FACTOR: '-1', TIMEZONE: 'Mars/Base', WEBHOOK_SECRET: 'short' });
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      const msg = (e as Error).message;
      for (const v of ['PORT', 'DATABASE_URL', 'CONVERSION_FACTOR', 'TIMEZONE', 'WEBHOOK_SECRET']) expect(msg).toContain(v);
    }
  });
  it('requires the master key with LITELLM_URL', () => {
    expect(() => loadConfig({ LITELLM_URL: 'http://litellm:4000' })).toThrow('LITELLM_MASTER_KEY');
  });
  it('treats empty strings as unset', () => {
    expect(loadConfig({ DATABASE_URL: '', REDIS_URL: ' ' }).DATABASE_URL).toBeUndefined();
  });
});

describe('.env.example', () => {
  it('lists exactly the variables the config reads', async () => {
    const { readFileSync } = await import('node:fs');
    const source = readFileSync(new URL('../src/config.ts', import.meta.url), 'utf8');
    const schemaKeys = [...source.matchAll(/^ {2}([A-Z][A-Z0-9_]+):/gm)].map((m) => m[1]).sort();
    const example = readFileSync(new URL('../../.env.example', import.meta.url), 'utf8');
    const exampleKeys = [...example.matchAll(/^([A-Z][A-Z0-9_]+)=/gm)].map((m) => m[1]).sort();
    expect(exampleKeys).toEqual(schemaKeys);
  });
});
