/**
 * The dashboard's API types, rendered from the service's own routes: `openapi.json` (the document
 * GET /api/openapi.json serves, keys sorted) and `schema.d.ts` (openapi-typescript's types of it).
 * `npm run api:types` writes them to dashboard/src/api; service/test/api-types.test.ts fails when
 * the committed copies are stale.
 */
import { fileURLToPath } from 'node:url';
import openapiTS, { astToString, COMMENT_HEADER, type OpenAPI3 } from 'openapi-typescript';
import { createApp, openApiDocument } from '../app.js';
import { loadConfig, type Config } from '../config.js';
import type { Deps } from '../deps.js';

export const API_TYPES_DIR = fileURLToPath(new URL('../../../dashboard/src/api/', import.meta.url));

export interface ApiTypeFiles {
  'openapi.json': string;
  'schema.d.ts': string;
}

export async function renderApiTypes(): Promise<ApiTypeFiles> {
  const app = createApp(routesOnlyDeps(loadConfig({ DASHBOARD_DIR: '/nonexistent' })));
  const document = sortKeys(openApiDocument(app));
  const types = astToString(await openapiTS(document as OpenAPI3, { silent: true }));
  return {
    'openapi.json': `${JSON.stringify(document, null, 2)}\n`,
    'schema.d.ts': `${COMMENT_HEADER}// From service/src/routes by \`npm run api:types\`.\n\n${types}`,
  };
}

/**
 * Deps enough to build the app for its route table: createApp reads only `config` while it
 * registers routes (the rest is read by handlers, and no request is served). Reading anything
 * else throws, so a future createApp that needs a database here fails loudly, not with undefined.
 */
function routesOnlyDeps(config: Config): Deps {
  return new Proxy({ config } as Deps, {
    get(target, prop) {
      if (prop === 'config') return target.config;
      if (typeof prop === 'symbol') return undefined;
      throw new Error(`createApp read deps.${prop} while building the OpenAPI document; only deps.config is available here`);
    },
  });
}

/** Object keys sorted at every depth (arrays keep their order), for a file that diffs cleanly. */
function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.keys(value)
      .sort()
      .map((k) => [k, sortKeys((value as Record<string, unknown>)[k])]),
  );
}
