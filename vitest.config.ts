import { defineConfig } from 'vitest/config';
import solid from 'vite-plugin-solid';

/**
 * Three projects, one `npm test`:
 * - service: unit (*.test.ts) and integration (*.int.test.ts) tests of the service, on real
 *   PostgreSQL when TEST_DATABASE_URL is set (CI), else on in-memory PGlite;
 * - dashboard: component tests (jsdom + @solidjs/testing-library);
 * - browser: whole-app tests in Chromium (playwright-core; Debian's, else @sparticuz/chromium) against
 *   the real service.
 * Groups that need a server or tool that is not there skip with one printed line, and fail under
 * CI=true (service/test/support/requires.ts).
 */
export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 120_000,
    maxWorkers: 2,
    projects: [
      {
        extends: true,
        test: {
          name: 'service',
          include: ['service/test/**/*.test.ts'],
          globalSetup: ['service/test/support/global-setup.ts'],
          environment: 'node',
          pool: 'forks',
        },
      },
      {
        extends: true,
        plugins: [solid()],
        resolve: { conditions: ['development', 'browser'] },
        test: {
          name: 'dashboard',
          include: ['dashboard/test/**/*.test.{ts,tsx}'],
          environment: 'jsdom',
        },
      },
      {
        extends: true,
        test: {
          name: 'browser',
          include: ['dashboard/e2e/**/*.test.ts'],
          globalSetup: ['service/test/support/global-setup.ts'],
          environment: 'node',
          pool: 'forks',
          fileParallelism: false,
          testTimeout: 90_000,
        },
      },
    ],
  },
});
