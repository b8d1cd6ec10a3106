/**
 * What a failed LiteLLM call was, for the person's statement: derived from the failure's
 * `error_information` (kept in the event's metadata) and its usage. Successes have none.
 *
 *  - `cancelled`: the caller hung up (LiteLLM's own 499; litellm_core_utils/litellm_logging.py:
 *    StandardLoggingPayloadSetup.get_error_information_for_logging_payload reports
 *    error_code "499", error_class "ClientDisconnected"; proxy/utils.py: _client_disconnected);
 *  - `timed_out`: litellm.Timeout (litellm/exceptions.py: Timeout, status 408; the class name is
 *    error_class, StandardLoggingPayloadSetup.get_error_information) or another *Timeout class;
 *  - `interrupted`: output was cut off after some of it was generated, i.e. a failure that
 *    carries completion tokens (the partial usage of a broken stream:
 *    litellm_core_utils/streaming_handler.py: CustomStreamWrapper._record_partial_usage_for_failure);
 *  - `failed`: any other failure.
 *
 * What the durable callback adds for LiteLLM's failure spend rows (litellm/companion_callback.py:
 * failure_charge_events) reads the same way: `<id>-billed` carries the failure's own
 * error_information, `<id>-attempt-N` a Timeout (408), the only attempts LiteLLM bills.
 */
export const FAILURE_OUTCOMES = ['cancelled', 'timed_out', 'interrupted', 'failed'] as const;
export type FailureOutcome = (typeof FAILURE_OUTCOMES)[number];

export interface FailureFacts {
  status: string;
  /** metadata.error_information as stored (any shape). */
  errorInformation: unknown;
  completionTokens: number;
}

export function failureOutcome(f: FailureFacts): FailureOutcome | null {
  if (f.status !== 'failure') return null;
  const info = f.errorInformation && typeof f.errorInformation === 'object' ? (f.errorInformation as Record<string, unknown>) : {};
  const code = String(info.error_code ?? '');
  const cls = String(info.error_class ?? '');
  if (code === '499' || cls === 'ClientDisconnected') return 'cancelled';
  // litellm.Timeout, openai's APITimeoutError, or httpx's ReadTimeout/ConnectTimeout when a stream
  // times out (streaming_handler.py: CustomStreamWrapper.__anext__ logs the raw httpx error)
  if (code === '408' || /Timeout/.test(cls)) return 'timed_out';
  if (f.completionTokens > 0) return 'interrupted';
  return 'failed';
}
