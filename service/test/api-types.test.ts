import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { API_TYPES_DIR, renderApiTypes, type ApiTypeFiles } from '../src/scripts/render-api-types.js';

/**
 * The dashboard's API types are generated from the routes (npm run api:types) and committed; this
 * renders them again in memory and fails when the committed copies differ: a route's schema changed
 * and the dashboard was not regenerated (or a generated file was edited by hand).
 */
let fresh: ApiTypeFiles;
beforeAll(async () => {
  fresh = await renderApiTypes();
});

/** Where two texts first differ, as one line each, for a failure that says what changed. */
function firstDifference(committed: string, current: string): string {
  const a = committed.split('\n');
  const b = current.split('\n');
  const i = a.findIndex((line, n) => line !== b[n]);
  const at = i === -1 ? a.length : i;
  return `line ${at + 1}: committed ${JSON.stringify(a[at] ?? '(end of file)')}, routes give ${JSON.stringify(b[at] ?? '(end of file)')}`;
}

describe('generated API types (dashboard/src/api)', () => {
  for (const name of ['openapi.json', 'schema.d.ts'] as const) {
    it(`${name} is what the routes give`, async () => {
      const committed = await readFile(join(API_TYPES_DIR, name), 'utf8').catch(() => '');
      const current = fresh[name];
      const stale = committed !== current;
      expect(stale, stale ? `dashboard/src/api/${name} is stale: run npm run api:types (${firstDifference(committed, current)})` : '').toBe(false);
    });
  }

  it('the document keeps its security schemes and names the shapes the dashboard uses', () => {
    const doc = JSON.parse(fresh['openapi.json']) as { security: unknown; components: { securitySchemes: Record<string, unknown>; schemas: Record<string, unknown> } };
    expect(doc.security).toEqual([{ bearer: [] }]);
    expect(doc.components.securitySchemes).toEqual({
      bearer: { scheme: 'bearer', type: 'http' },
      portalSession: { in: 'cookie', name: 'tcc_portal', type: 'apiKey' },
      webhookSecret: { scheme: 'bearer', type: 'http' },
    });
    for (const name of ['User', 'Key', 'LedgerEntry', 'Stats', 'Alert', 'Mail', 'AuditEntry', 'Payment', 'Reconciliation', 'PortalMe']) {
      expect(doc.components.schemas, name).toHaveProperty(name);
    }
    // A named schema used as `X | null` must not make the component itself nullable (schemas.ts, orNull).
    expect((doc.components.schemas.Key as { type: unknown }).type).toBe('object');
  });
});
