/**
 * Realistic LiteLLM StandardLoggingPayload events, and the bench's own (independent) money math.
 * Nothing here imports service code: the expected debits are computed from what was sent.
 */
import { createHash, randomUUID } from 'node:crypto';

export interface Person {
  userId: string;
  keyHash: string;
  keyAlias: string;
}

/** USD per token, roughly public list prices; costs land in 0.000003–0.0003 USD per call. */
const MODELS = [
  { name: 'gpt-4o-mini', provider: 'openai/gpt-4o-mini', base: 'https://api.openai.com/v1', inp: 1.5e-7, out: 6e-7 },
  { name: 'claude-3-5-haiku', provider: 'anthropic/claude-3-5-haiku-20241022', base: 'https://api.anthropic.com', inp: 8e-7, out: 4e-6 },
  { name: 'gemini-1.5-flash', provider: 'gemini/gemini-1.5-flash', base: 'https://generativelanguage.googleapis.com', inp: 7.5e-8, out: 3e-7 },
  { name: 'llama-3.1-8b', provider: 'groq/llama-3.1-8b-instant', base: 'https://api.groq.com/openai/v1', inp: 5e-8, out: 8e-8 },
] as const;
const MODEL_IDS = new Map<string, string>(MODELS.map((m) => [m.name, createHash('sha256').update(m.name).digest('hex').slice(0, 32)]));

const PROMPTS = [
  'Summarise the attached meeting notes in three bullet points.',
  'Write a unit test for the function below.',
  'Translate to Portuguese: the invoice is due on Friday.',
  'Explain the difference between a mutex and a semaphore.',
  'Draft a polite reply declining the invitation.',
];

const rnd = (lo: number, hi: number) => lo + Math.floor(Math.random() * (hi - lo + 1));
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(Math.random() * xs.length)]!;

/** cost (as JSON writes it: shortest round-trip text) → nano-USD, rounded half-up at 9 places. */
export function costNanoOf(cost: number): bigint {
  const m = /^(\d+)(?:\.(\d+))?(?:e([+-]?\d+))?$/i.exec(String(cost));
  if (!m) throw new Error(`bench: unexpected cost text ${String(cost)}`);
  const frac = m[2] ?? '';
  const digits = BigInt(m[1]! + frac);
  const shift = Number(m[3] ?? '0') - frac.length + 9;
  if (shift >= 0) return digits * 10n ** BigInt(shift);
  const div = 10n ** BigInt(-shift);
  const q = digits / div;
  return (digits % div) * 2n >= div ? q + 1n : q;
}

/** nano-USD → milli-credits with f = factorMicro/10^6 USD per credit, half-up. */
export function milliOf(nano: bigint, factorMicro: bigint): bigint {
  const num = nano * 1_000_000n;
  const q = num / factorMicro;
  return (num % factorMicro) * 2n >= factorMicro ? q + 1n : q;
}

/** Skewed choice: half of the traffic comes from the heaviest 20% of people, the rest uniform. */
export function pickPerson(n: number): number {
  return Math.random() < 0.5 ? Math.floor(Math.random() * Math.max(1, Math.floor(n * 0.2))) : Math.floor(Math.random() * n);
}

export interface BuiltEvent {
  person: number;
  costNano: bigint;
  body: Buffer;
}

const spendByPerson = new Map<number, number>();

/** One successful `acompletion` call, serialised exactly as LiteLLM's generic_api logger would. */
export function buildEvent(people: Person[], personIdx: number, nowSec: number, costUsd?: number): BuiltEvent {
  const p = people[personIdx]!;
  const model = pick(MODELS);
  const prompt = rnd(20, 600);
  const completion = rnd(10, 300);
  // a float with float noise, like LiteLLM (or a given cost: one expensive call, e.g. to cross 80 %)
  const cost = costUsd ?? prompt * model.inp + completion * model.out;
  const latency = 0.2 + Math.random() * 3;
  const start = nowSec - latency - Math.random() * 5;
  const callId = randomUUID();
  const spend = (spendByPerson.get(personIdx) ?? 0) + cost;
  spendByPerson.set(personIdx, spend);
  const content = pick(PROMPTS);
  const payload = {
    id: `chatcmpl-${randomUUID().replaceAll('-', '').slice(0, 24)}`,
    trace_id: randomUUID(),
    litellm_call_id: callId,
    call_type: 'acompletion',
    stream: false,
    status: 'success',
    response_cost: cost,
    response_cost_failure_debug_info: null,
    saved_cache_cost: 0,
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: prompt + completion,
    startTime: start,
    endTime: start + latency,
    completionStartTime: start + latency * 0.3,
    response_time: latency,
    model: model.provider.split('/')[1],
    model_id: MODEL_IDS.get(model.name),
    model_group: model.name,
    custom_llm_provider: model.provider.split('/')[0],
    api_base: model.base,
    cache_hit: false,
    cache_key: null,
    request_tags: [],
    end_user: '',
    requester_ip_address: `10.0.${personIdx % 250}.${(personIdx * 7) % 250}`,
    messages: [
      { role: 'system', content: 'You are a helpful assistant.' },
      { role: 'user', content },
    ],
    response: {
      id: `chatcmpl-${randomUUID().replaceAll('-', '').slice(0, 16)}`,
      object: 'chat.completion',
      created: Math.floor(start + latency),
      model: model.provider.split('/')[1],
      choices: [{ index: 0, finish_reason: 'stop', message: { role: 'assistant', content: 'Sure — here is a short answer.' } }],
      usage: { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion },
    },
    model_parameters: { temperature: 0.2, max_tokens: 1024 },
    metadata: {
      user_api_key_hash: p.keyHash,
      user_api_key_alias: p.keyAlias,
      user_api_key_org_id: null,
      user_api_key_team_id: 'team-bench',
      user_api_key_user_id: p.userId,
      user_api_key_team_alias: 'bench',
      user_api_key_end_user_id: null,
      user_api_key_spend: Number(spend.toFixed(8)),
      user_api_key_max_budget: null,
      spend_logs_metadata: null,
      requester_ip_address: null,
      requester_metadata: {},
      applied_guardrails: [],
    },
    hidden_params: {
      model_id: MODEL_IDS.get(model.name),
      cache_key: null,
      api_base: model.base,
      response_cost: String(cost),
      additional_headers: { 'x-ratelimit-remaining-requests': rnd(100, 10000) },
      litellm_overhead_time_ms: Math.round(Math.random() * 30) / 10,
    },
    error_str: null,
    error_information: { error_code: '', error_class: '', llm_provider: '', traceback: '', error_message: '' },
  };
  return { person: personIdx, costNano: costNanoOf(cost), body: Buffer.from(JSON.stringify(payload)) };
}
