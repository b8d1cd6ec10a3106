import { writeFileSync } from 'node:fs';
import { openPostgres } from '../src/db/client.js';
import { createApiToken } from '../src/domain/auth/tokens.js';
import { SYSTEM_ACTOR } from '../src/domain/actor.js';
import { WEBHOOK_SECRET } from './support/context.js';
import { createTestDatabase } from './support/db.js';
import { startService } from './support/processes.js';
import globalSetup from './support/global-setup.js';

await globalSetup();
const database = await createTestDatabase(2);
const svc = await startService({ DATABASE_URL: database.url!, WEBHOOK_SECRET, ADMIN_PASSWORD: 'correct horse battery staple', JOBS_ENABLED: 'false', RATE_LIMIT_API_PER_MINUTE: '1000000', RATE_LIMIT_WEBHOOK_PER_MINUTE: '1000000', LOG_LEVEL: 'error' });
const pg = await openPostgres(database.url!, 1);
const { token } = await pg.db.transaction((tx) => createApiToken(tx, SYSTEM_ACTOR, {}, { name: 'fz', role: 'admin' }));
await pg.close();
writeFileSync('/tmp/fz/env', `URL=${svc.url}\nTOKEN=${token}\nDB=${database.url}\n`);
console.log('ready', svc.url);
setInterval(() => { const o = svc.output(); if (o) { writeFileSync('/tmp/fz/out.log', o); } }, 1000);
process.on('SIGTERM', async () => { await svc.kill(); await database.close(); process.exit(0); });
