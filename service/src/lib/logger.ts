import pino, { type Logger } from 'pino';

export type { Logger };

/** Paths that must never reach a log line. */
const REDACT = [
  'password',
  '*.password',
  'key',
  '*.key',
  'token',
  '*.token',
  'authorization',
  '*.authorization',
  'headers.authorization',
  'headers.cookie',
  '*.headers.authorization',
  'masterKey',
  '*.masterKey',
  'secret',
  '*.secret',
];

/** Properties of database errors that hold a statement's text or its bound values. */
const BOUND = new Set(['query', 'params', 'parameters', 'args', 'types']);
const MAX_TEXT = 300;

/**
 * `err` in log lines: type, message, stack, codes and cause, but never what a failed statement was
 * bound to. drizzle's DrizzleQueryError puts the query and every parameter in its message (and so
 * its stack): a failed usage batch once logged its whole 1.8 MB body. Strings are cut at 300
 * characters.
 */
export function safeError(err: unknown, depth = 0): unknown {
  if (!(err instanceof Error)) return typeof err === 'string' ? err.slice(0, MAX_TEXT) : err;
  const message = err.message.startsWith('Failed query: ') ? `Failed query (statement and parameters not logged): ${err.message.slice(14, 14 + 120).split('\n')[0]}…` : err.message.slice(0, MAX_TEXT);
  const stack = err.stack?.includes(err.message) ? err.stack.replace(err.message, message) : err.stack;
  const out: Record<string, unknown> = { type: err.name, message, stack: stack?.slice(0, 4000) };
  for (const [k, v] of Object.entries(err)) {
    if (BOUND.has(k) || k === 'cause' || k === 'message' || k === 'stack') continue;
    if (v === null || ['string', 'number', 'boolean'].includes(typeof v)) out[k] = typeof v === 'string' ? v.slice(0, MAX_TEXT) : v;
  }
  if (err.cause !== undefined && depth < 3) out.cause = safeError(err.cause, depth + 1);
  return out;
}

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      redact: { paths: REDACT, censor: '[redacted]' },
      serializers: { err: safeError },
      base: { service: 'companion' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    destination,
  );
}
