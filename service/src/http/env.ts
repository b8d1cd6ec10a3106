import { OpenAPIHono } from '@hono/zod-openapi';
import type { Deps } from '../deps.js';
import type { Actor } from '../domain/actor.js';
import type { Logger } from '../lib/logger.js';
import { validationError } from './errors.js';

export interface AppEnv {
  Variables: {
    deps: Deps;
    requestId: string;
    log: Logger;
    actor: Actor;
  };
}

/** A sub-app whose zod validation failures answer in the one error shape. */
export function createRouter() {
  return new OpenAPIHono<AppEnv>({
    defaultHook: (result, c) => {
      if (!result.success) return validationError(c, result.error);
    },
  });
}

export function requestMeta(c: { get(k: 'requestId'): string; req: { header(n: string): string | undefined } }, ip?: string) {
  return { requestId: c.get('requestId'), ip };
}
