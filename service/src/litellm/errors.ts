/**
 * The one error type of the LiteLLM admin client.
 *
 * `retryable` tells the outbox worker whether trying again later can help: network failures,
 * timeouts, 408, 429, 5xx and unreadable bodies can; other 4xx (bad input, unknown key, wrong
 * master key) cannot. Messages are redacted: they never carry the master key or a plaintext
 * `sk-` key, even when LiteLLM echoes one back in its error text.
 */

import { fastapiErrorBody, proxyErrorBody } from './schemas.js';

export type LiteLLMErrorCode = 'timeout' | 'network' | 'http' | 'invalid_response';

export interface LiteLLMErrorInit {
  code: LiteLLMErrorCode;
  /** HTTP status, 0 when no response arrived (network failure, timeout). */
  status: number;
  /** Method and path of the admin call, without the query string (it may hold a key). */
  endpoint: string;
  /** Human-readable detail; redacted again by the constructor. */
  detail: string;
  /** LiteLLM's `error.type` when the body had one (e.g. `auth_error`, `budget_exceeded`). */
  errorType?: string | undefined;
  secrets?: readonly string[];
  cause?: unknown;
}

export class LiteLLMError extends Error {
  override readonly name = 'LiteLLMError';
  readonly code: LiteLLMErrorCode;
  readonly status: number;
  readonly retryable: boolean;
  readonly endpoint: string;
  readonly errorType: string | undefined;

  constructor(init: LiteLLMErrorInit) {
    const what = init.status > 0 ? `HTTP ${init.status}` : init.code;
    const message = `LiteLLM ${init.endpoint} failed (${what}): ${init.detail}`;
    super(redactSecrets(message, init.secrets ?? []).slice(0, 600));
    this.code = init.code;
    this.status = init.status;
    this.endpoint = init.endpoint;
    this.errorType = init.errorType;
    this.retryable = isRetryable(init.code, init.status);
    // A fetch error's text may hold the URL (and a key in its query): keep only the error's name.
    if (init.cause instanceof Error) this.cause = { name: init.cause.name };
  }
}

export function isRetryable(code: LiteLLMErrorCode, status: number): boolean {
  if (code !== 'http') return true;
  return status === 408 || status === 429 || status >= 500;
}

const PLAINTEXT_KEY = /sk-[A-Za-z0-9_\-.~+/=]*/g;

/** Removes the given secrets and anything that looks like a LiteLLM plaintext key. */
export function redactSecrets(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) {
    if (secret.length > 0) out = out.split(secret).join('[redacted]');
  }
  return out.replace(PLAINTEXT_KEY, '[redacted-key]');
}

/** LiteLLM's `error.message` (often str() of a dict), FastAPI's `detail`, or the raw text. */
export function readErrorBody(body: unknown, text: string): { message: string; type: string | undefined } {
  const proxy = proxyErrorBody.safeParse(body);
  if (proxy.success) {
    const { message, type } = proxy.data.error;
    return { message: stringify(message), type: typeof type === 'string' ? type : undefined };
  }
  const fastapi = fastapiErrorBody.safeParse(body);
  if (fastapi.success) return { message: stringify(fastapi.data.detail), type: undefined };
  return { message: text.slice(0, 200) || '(empty body)', type: undefined };
}

/** Names the socket-level cause (ECONNREFUSED, ECONNRESET, ...) without echoing URLs. */
export function describeNetworkError(err: unknown): string {
  // undici's request() rejects with the socket's error itself (ECONNREFUSED ...), fetch() with it as the cause
  const withCode = (e: unknown) => (e && typeof e === 'object' && typeof (e as { code?: unknown }).code === 'string' ? (e as { code: string }).code : undefined);
  const code = withCode(err) ?? (err instanceof Error ? withCode(err.cause) : undefined);
  return code ? `connection failed (${code})` : 'connection failed';
}

function stringify(v: unknown): string {
  return typeof v === 'string' ? v : (JSON.stringify(v) ?? String(v));
}
