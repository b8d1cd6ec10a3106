import { OpenAPIHono } from '@hono/zod-openapi';
import { serveStatic } from '@hono/node-server/serve-static';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Deps } from './deps.js';
import type { AppEnv } from './http/env.js';
import { errorBody, onError } from './http/errors.js';
import { authenticate, noStore, rejectNul, requestContext, securityHeaders } from './http/middleware.js';
import { alertsRoutes } from './routes/alerts.js';
import { authRoutes, loginRoutes } from './routes/auth.js';
import { deadLettersRoutes } from './routes/dead-letters.js';
import { healthRoutes } from './routes/health.js';
import { packsRoutes, paymentsRoutes } from './routes/payments.js';
import { plansRoutes } from './routes/plans.js';
import { portalLoginRoutes, portalRoutes } from './routes/portal.js';
import { reportsRoutes } from './routes/reports.js';
import { settingsRoutes } from './routes/settings.js';
import { stripeWebhookRoutes } from './routes/stripe-webhook.js';
import { usersRoutes } from './routes/users.js';
import { webhookPersonRoutes } from './routes/webhook-person.js';
import { webhookRoutes } from './routes/webhooks.js';

const PUBLIC_API = new Set(['/api/auth/login', '/api/openapi.json']);
const isPortalPath = (path: string) => path === '/api/portal' || path.startsWith('/api/portal/');

export function createApp(deps: Deps) {
  const app = new OpenAPIHono<AppEnv>();
  app.use('*', requestContext(deps), securityHeaders);
  app.use('/api/*', noStore);
  app.onError(onError);
  app.notFound((c) => c.json(errorBody('not_found', `no route for ${c.req.method} ${c.req.path}`, c.get('requestId') ?? ''), 404));

  app.route('/', healthRoutes);
  app.route('/webhooks', webhookRoutes({
    maxBodyBytes: deps.config.WEBHOOK_MAX_BODY_BYTES,
    maxConcurrent: deps.config.WEBHOOK_MAX_CONCURRENT,
    maxQueued: deps.config.WEBHOOK_MAX_QUEUED,
    maxInflightBytes: deps.config.WEBHOOK_MAX_INFLIGHT_BYTES,
    bookingTransactions: deps.config.WEBHOOK_BOOKING_TRANSACTIONS,
    groupMaxEvents: deps.config.WEBHOOK_GROUP_MAX_EVENTS,
  }));
  app.route('/webhooks', webhookPersonRoutes());
  app.route('/webhooks', stripeWebhookRoutes());

  const api = new OpenAPIHono<AppEnv>();
  // Everything under /api needs an admin session or token, but logging in and the API document.
  // /api/portal/* is another realm (one person's own portal session), authenticated by its router.
  api.use('*', rejectNul);
  api.use('*', async (c, next) => (PUBLIC_API.has(c.req.path) || isPortalPath(c.req.path) ? next() : authenticate(c, next)));
  api.route('/portal', portalLoginRoutes);
  api.route('/portal', portalRoutes);
  api.route('/auth', loginRoutes);
  api.route('/auth', authRoutes);
  api.route('/users', usersRoutes);
  api.route('/plans', plansRoutes);
  api.route('/settings', settingsRoutes);
  api.route('/packs', packsRoutes);
  api.route('/payments', paymentsRoutes);
  api.route('/dead-letters', deadLettersRoutes);
  api.route('/', reportsRoutes());
  api.route('/', alertsRoutes);
  app.route('/api', api);

  app.openAPIRegistry.registerComponent('securitySchemes', 'bearer', { type: 'http', scheme: 'bearer' });
  app.openAPIRegistry.registerComponent('securitySchemes', 'webhookSecret', { type: 'http', scheme: 'bearer' });
  app.openAPIRegistry.registerComponent('securitySchemes', 'portalSession', { type: 'apiKey', in: 'cookie', name: 'tcc_portal' });
  app.get('/api/openapi.json', (c) => c.json(openApiDocument(app)));
  app.all('/api/*', (c) => c.json(errorBody('not_found', `no route for ${c.req.method} ${c.req.path}`, c.get('requestId')), 404));

  mountDashboard(app, deps.config.DASHBOARD_DIR);
  return app;
}

/**
 * The OpenAPI 3.1 document of every route registered on `app`, with its security schemes. The one
 * definition behind both GET /api/openapi.json and the dashboard's generated types (npm run api:types).
 */
export function openApiDocument(app: OpenAPIHono<AppEnv>) {
  return app.getOpenAPI31Document({
    openapi: '3.1.0',
    info: { title: 'Token credit companion for LiteLLM', version: '0.1.0' },
    security: [{ bearer: [] }],
  });
}

/** The built dashboard at `/`, with index.html for client-side routes. */
function mountDashboard(app: OpenAPIHono<AppEnv>, dir: string) {
  const index = join(dir, 'index.html');
  if (!existsSync(index)) {
    app.get('/', (c) => c.text('The dashboard is not built. Run `npm start` (it builds it) or `npm run build:dashboard`.', 503));
    return;
  }
  const html = readFileSync(index, 'utf8');
  app.use('/assets/*', serveStatic({ root: dir, onFound: (_p, c) => c.header('Cache-Control', 'public, max-age=31536000, immutable') }));
  // A missing hashed asset is a 404, never index.html (a stale page must not get HTML for JS).
  app.get('/assets/*', (c) => c.json(errorBody('not_found', 'no such asset', c.get('requestId')), 404));
  app.use('*', serveStatic({ root: dir }));
  app.get('*', (c) => {
    c.header('Cache-Control', 'no-cache');
    return c.html(html);
  });
}
