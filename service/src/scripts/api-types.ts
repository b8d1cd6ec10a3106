/**
 * `npm run api:types`: write dashboard/src/api/openapi.json and schema.d.ts from the service's
 * routes (render-api-types.ts). Commit both; service/test/api-types.test.ts checks they are current.
 */
import { writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { API_TYPES_DIR, renderApiTypes, type ApiTypeFiles } from './render-api-types.js';

const files = await renderApiTypes();
for (const name of Object.keys(files) as (keyof ApiTypeFiles)[]) {
  const path = join(API_TYPES_DIR, name);
  await writeFile(path, files[name]);
  process.stdout.write(`wrote ${relative(process.cwd(), path)}\n`);
}
