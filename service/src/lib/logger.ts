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

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      redact: { paths: REDACT, censor: '[redacted]' },
      base: { service: 'companion' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    destination,
  );
}
