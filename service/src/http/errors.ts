import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ZodError } from 'zod';
import { ApiError, ERROR_STATUS, type ErrorCode } from '../lib/errors.js';
import { MoneyError } from '../domain/money.js';

export function errorBody(code: ErrorCode, message: string, requestId: string, details?: unknown) {
  return { error: { code, message, requestId, ...(details === undefined ? {} : { details }) } };
}

export function validationError(c: Context, error: ZodError) {
  const details = error.issues.map((i) => ({ field: i.path.join('.'), message: i.message }));
  const first = details[0];
  const message = first ? `${first.field || 'request'}: ${first.message}` : 'invalid request';
  return c.json(errorBody('validation_error', message, c.get('requestId') ?? '', details), 400);
}

/** The one place errors become responses. Unknown errors are logged with stack and hidden. */
export function onError(err: Error, c: Context) {
  const requestId: string = c.get('requestId') ?? '';
  if (err instanceof ApiError) {
    for (const [k, v] of Object.entries(err.headers ?? {})) c.header(k, v);
    return c.json(errorBody(err.code, err.message, requestId, err.details), err.status);
  }
  if (err instanceof MoneyError) return c.json(errorBody('validation_error', err.message, requestId), 400);
  if (err instanceof HTTPException) {
    const status = err.status;
    const code: ErrorCode =
      status === 413 ? 'payload_too_large' : status === 415 ? 'unsupported_media_type' : status === 401 ? 'unauthorized' : status === 404 ? 'not_found' : status === 400 ? 'validation_error' : 'internal';
    return c.json(errorBody(code, err.message || code, requestId), ERROR_STATUS[code]);
  }
  const log = c.get('log') ?? console;
  if (isDatabaseUnavailable(err)) {
    log.error({ err }, 'database unavailable');
    return c.json(errorBody('dependency_unavailable', 'the database is unavailable; retry later', requestId), 503);
  }
  log.error({ err }, 'unhandled error');
  return c.json(errorBody('internal', 'internal error', requestId), 500);
}

function isDatabaseUnavailable(err: unknown): boolean {
  const e = err as { code?: string; cause?: { code?: string } };
  const code = e?.code ?? e?.cause?.code;
  return (
    code === 'ECONNREFUSED' ||
    code === 'ECONNRESET' ||
    code === 'EPIPE' || // a write to a connection the server just closed (seen while it shut down)
    code === 'ECONNABORTED' ||
    code === 'ETIMEDOUT' ||
    code === 'EHOSTUNREACH' ||
    code === 'ENETUNREACH' ||
    code === 'CONNECTION_CLOSED' ||
    code === 'CONNECTION_ENDED' ||
    code === 'CONNECTION_DESTROYED' ||
    code === 'CONNECT_TIMEOUT' ||
    code === '57P01' || // admin_shutdown
    code === '57P02' || // crash_shutdown
    code === '57P03' || // cannot_connect_now
    (typeof code === 'string' && code.startsWith('08')) // connection_exception and its subclasses
  );
}
