import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { prepareUsage } from '../src/domain/usage/ingest.js';
import { jsonArrayItems, PAYLOAD_READ, parseUsageItem, splitBody } from '../src/domain/usage/parse.js';

const HASH = 'a'.repeat(64);
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
const event = (extra: Record<string, unknown> = {}) => ({
  litellm_call_id: 'call-1',
  id: 'chatcmpl-1',
  status: 'success',
  response_cost: 0.000376,
  startTime: 1_763_790_000.5,
  model: 'gpt-4o-mini',
  metadata: { user_api_key_hash: HASH, user_api_key_alias: 'ana' },
  ...extra,
});

/** `depth` levels of alternating objects and arrays around 1. */
function deep(depth: number): unknown {
  let v: unknown = 1;
  for (let i = 0; i < depth; i++) v = i % 2 ? [v] : { a: v };
  return v;
}

function depthOf(v: unknown): number {
  if (v === null || typeof v !== 'object') return 0;
  return 1 + Math.max(0, ...Object.values(v as object).map(depthOf));
}

describe('splitBody', () => {
  it('returns a body without NUL or surrogate escapes exactly as JSON.parse does', () => {
    const body = JSON.stringify([event(), event({ litellm_call_id: 'call-2', model: 'modèle — ü' })]);
    expect(splitBody(body)).toEqual({ items: JSON.parse(body), badLines: [] });
  });

  it('replaces escaped NULs and lone surrogates, in values and keys, with U+FFFD', () => {
    const body = '[{"model":"a\\u0000b","k\\u0000":"\\ud800x","pair":"\\ud83d\\ude00","lone":"\\udfff"}]';
    expect(splitBody(body)!.items).toEqual([{ model: 'a\ufffdb', 'k\ufffd': '\ufffdx', pair: '😀', lone: '\ufffd' }]);
  });

  it('does the same for NDJSON lines, and keeps bad lines storable', () => {
    const split = splitBody('{"model":"a\\u0000"}\n{"oops": \u0000\n{"model":"b"}')!;
    expect(split.items).toEqual([{ model: 'a\ufffd' }, { model: 'b' }]);
    expect(split.badLines).toEqual(['{"oops": \ufffd']);
  });

  it('refuses what is neither JSON nor NDJSON', () => {
    expect(splitBody('')).toBeNull();
    expect(splitBody('{"oops": ')).toBeNull();
  });
});

describe('parseUsageItem and prepareUsage', () => {
  it('cuts deep nesting in the metadata it keeps, so the row can be serialised and stored', () => {
    const r = parseUsageItem(event({ metadata: { user_api_key_hash: HASH, user_api_key_team_id: deep(10_000) }, end_user: deep(10_000) }));
    expect(r.ok).toBe(true);
    const metadata = (r as { item: { metadata: Record<string, unknown> } }).item.metadata;
    expect(depthOf(metadata)).toBeLessThanOrEqual(64);
    expect(JSON.stringify(metadata)).toContain('[nested too deep]');
  });

  it('dead-letters malformed items as bounded, storable text without content, and dedupes within the batch', () => {
    const batch = prepareUsage([event(), event(), deep(10_000), { status: 'weird' }, 'x'.repeat(100_000), 7], ['not json \u0000']);
    expect(batch.good).toHaveLength(1);
    expect(batch.duplicate).toBe(1);
    expect(batch.dead.map((d) => d.reason)).toEqual(['line is not valid JSON', 'not a JSON object', 'unknown status "weird"', 'not a JSON object', 'not a JSON object']);
    expect(batch.dead.map((d) => JSON.parse(d.payload))).toEqual([
      { type: 'not JSON', length: 10 },
      { type: 'array', length: 1 },
      { status: 'weird' },
      { type: 'string', length: 100_000 },
      { type: 'number', value: 7 },
    ]);
  });

  it('strips message content from dead letters exactly as from booked events, and never keeps a raw bearer value', () => {
    const raw = {
      ...event({ status: 'weird', startTime: 'not a time' }),
      messages: [{ role: 'user', content: 'secret prompt' }],
      response: { choices: [{ message: { content: 'secret answer' } }] },
      model_parameters: { temperature: 1 },
      hidden_params: { api_key: 'sk-provider-secret' },
      end_user: 'ana@example.com',
      metadata: { user_api_key_hash: 'Bearer not-an-sk-key', user_api_key_alias: 'ana', user_api_key_end_user_id: 'e1', requester_metadata: { note: 'secret' }, spend_logs_metadata: { content: 'x' } },
    };
    const [dead] = prepareUsage([raw]).dead;
    expect(dead!.reason).toBe('unknown status "weird"');
    expect(JSON.parse(dead!.payload)).toEqual({
      id: 'chatcmpl-1',
      litellm_call_id: 'call-1',
      status: 'weird',
      response_cost: 0.000376,
      startTime: 'not a time',
      model: 'gpt-4o-mini',
      end_user: 'ana@example.com',
      metadata: { user_api_key_hash: sha256('Bearer not-an-sk-key'), user_api_key_alias: 'ana', user_api_key_end_user_id: 'e1' },
      stripped: ['messages', 'response', 'model_parameters', 'hidden_params'],
    });
    expect(dead!.payload).not.toMatch(/secret|not-an-sk-key/);
  });
});

describe('jsonArrayItems', () => {
  const enc = (s: string) => new TextEncoder().encode(s);
  const items = (s: string) => {
    const it = jsonArrayItems(enc(s));
    return it ? [...it] : null;
  };
  /** What the service reads of a parsed value (PAYLOAD_READ applied to JSON.parse's result). */
  const readPart = (v: unknown, read: typeof PAYLOAD_READ = PAYLOAD_READ, escapedKept = false): unknown => {
    if (!v || typeof v !== 'object' || Array.isArray(v)) return v;
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      // a name sent with an escape is kept whole (skimArray does not decode names)
      const r = escapedKept && JSON.stringify(k).includes('\\') ? true : read.get(k);
      if (r) out[k] = r === true ? x : readPart(x, r, escapedKept);
    }
    return out;
  };

  it('yields what JSON.parse gives, element by element, without the members it never reads', () => {
    for (const text of [
      '[]',
      ' [ ] ',
      '[1]',
      '[{"model":"x,]}"},[1,[2]],"q\\"]",null,true,-1.5e3]',
      '\ufeff[{"status":1}]\n',
      '[{"model":"caf\u00e9 \u2014 \\u00e9"}, {"b":{}}]',
      '[{"messages":[{"role":"user","content":"a \\"quoted\\" }] text"}],"model":"m","response":{"x":[1,{"y":"]"}]}}]',
      '[{"metadata":{"user_api_key_hash":"h","requester_metadata":{"note":"n"},"user_api_key_alias":"a"},"metadata2":1}]',
      '[{"metadata":"not an object","end_user":{"deep":[1,2]}}, {"metadata":[1,{"a":2}]}]',
      '[ { "model" : "m" , "hidden_params" : { } , "status" : "success" } ]',
    ]) {
      const parsed = JSON.parse(text.replace(/^\ufeff/, '')) as unknown[];
      expect(items(text), text).toEqual(parsed.map((v) => readPart(v, PAYLOAD_READ, true)));
    }
  });
  it('agrees with JSON.parse on random documents: nesting, escapes, whitespace, unicode, duplicates', () => {
    let seed = 17;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const names = [...PAYLOAD_READ.keys(), 'user_api_key_hash', 'user_api_key_alias', 'messages', 'response', 'x', 'caf\u00e9', 'a"b', 'back\\slash', ''];
    const strings = ['', 'plain', 'quote " inside', 'back \\ slash', '\u2014 dash', 'brace } ] [ {', 'new\nline', '\u00e9\u0301', '😀', 'tab\t'];
    const value = (depth: number): unknown => {
      const k = rand(depth > 3 ? 5 : 8);
      if (k === 0) return strings[rand(strings.length)];
      if (k === 1) return rand(2) ? rand(1000) - 500 : rand(100000) / 7;
      if (k === 2) return [true, false, null][rand(3)];
      if (k === 3) return rand(10) ** 20;
      if (k === 4) return '';
      if (k === 5) return Array.from({ length: rand(4) }, () => value(depth + 1));
      return object(depth + 1);
    };
    const object = (depth: number) => Object.fromEntries(Array.from({ length: rand(7) }, () => [names[rand(names.length)]!, value(depth)]));
    const ws = () => [' ', '', '\n', '\t ', '\r\n'][rand(5)]!;
    /** JSON text with random whitespace between tokens (JSON.stringify with a replacer cannot). */
    const spaced = (v: unknown): string => {
      if (Array.isArray(v)) return `[${ws()}${v.map((x) => `${ws()}${spaced(x)}${ws()}`).join(',')}]`;
      if (v && typeof v === 'object') return `{${Object.entries(v).map(([k, x]) => `${ws()}${JSON.stringify(k)}${ws()}:${ws()}${spaced(x)}${ws()}`).join(',')}}`;
      return JSON.stringify(v);
    };
    for (let round = 0; round < 300; round++) {
      const elements = Array.from({ length: 1 + rand(5) }, () => (rand(6) ? object(0) : value(2)));
      // a duplicate name now and then: JSON.parse keeps the last
      let text = `${ws()}[${elements.map((e) => `${ws()}${spaced(e)}`).join(',')}]${ws()}`;
      if (rand(4) === 0) text = text.replace(/^(\s*\[\s*\{)(?!\s*\})/, '$1"model":"first",');
      const parsed = JSON.parse(text) as unknown[];
      expect(items(text), text).toEqual(parsed.map((v) => readPart(v, PAYLOAD_READ, true)));
    }
  });
  it('reads a member whose name has an escape as JSON.parse names it', () => {
    expect(items('[{"st\\u0061tus":"failure","m\\u0065ssages":[1]}]')).toEqual([{ status: 'failure', messages: [1] }]);
  });
  it('makes NUL and lone surrogates storable as splitBody does', () => {
    expect(items('[{"model":"x\\u0000y","end_user":"\\ud800"}]')).toEqual([{ model: 'x\ufffdy', end_user: '\ufffd' }]);
  });
  it('is null for what is not one well-formed array, also inside members it does not read', () => {
    for (const text of [
      '{"a":1}', '[1,]', '[,1]', '[1] x', '[1', '1', '', '[1]]', '{"a":1}\n{"a":2}', '[{"a":1},{bad}]',
      '[{"messages":[1}]', '[{"messages":{"a":[}}]', '[{"messages":"open]', '[{"messages":}]', '[{"messages" 1}]', '[{"model":"m",}]',
    ]) expect(items(text), text).toBeNull();
  });
  it('throws SyntaxError for a member it reads that is not JSON; what it never reads is not parsed', () => {
    expect(() => items('[{"model":"m"},{"status":tru}]')).toThrow(SyntaxError);
    expect(items('[{"messages":[tru, 01],"model":"m"}]')).toEqual([{ model: 'm' }]);
  });
  it('books real LiteLLM payloads exactly as from the whole parse, and a dead letter still names what it stripped', () => {
    const fixture = JSON.parse(readFileSync(new URL('./fixtures/litellm-failures.json', import.meta.url), 'utf8')) as { cases: Record<string, unknown[]> };
    const payloads = Object.values(fixture.cases).flat();
    expect(payloads.length).toBeGreaterThan(5);
    const body = JSON.stringify(payloads);
    expect(prepareUsage(jsonArrayItems(enc(body))!)).toEqual(prepareUsage(JSON.parse(body) as unknown[]));
    const odd = { ...(payloads[0] as object), status: 'weird' };
    const [viaSkim] = prepareUsage(jsonArrayItems(enc(JSON.stringify([odd])))!).dead;
    expect(viaSkim).toEqual(prepareUsage([structuredClone(odd)]).dead[0]);
    expect(JSON.parse(viaSkim!.payload).stripped).toEqual(expect.arrayContaining(['hidden_params', 'model_parameters', 'cost_breakdown']));
  });
  it('parsing and dead-lettering read nothing that PAYLOAD_READ leaves out', () => {
    const fixture = JSON.parse(readFileSync(new URL('./fixtures/litellm-failures.json', import.meta.url), 'utf8')) as { cases: Record<string, Record<string, unknown>[]> };
    const unread: string[] = [];
    /** The payload behind a proxy that records every member read outside `read` (Object.keys is not a read). */
    const watched = (v: Record<string, unknown>, read: typeof PAYLOAD_READ, path: string): Record<string, unknown> =>
      new Proxy(v, {
        get(target, key) {
          if (typeof key !== 'string') return Reflect.get(target, key);
          const r = read.get(key);
          if (!r) unread.push(`${path}${key}`);
          const x = target[key];
          return r && r !== true && x && typeof x === 'object' && !Array.isArray(x) ? watched(x as Record<string, unknown>, r, `${path}${key}.`) : x;
        },
      });
    for (const p of Object.values(fixture.cases).flat()) {
      for (const status of [p.status, 'weird']) {
        prepareUsage([watched({ ...p, status }, PAYLOAD_READ, '')]);
      }
    }
    expect(unread).toEqual([]);
  });
});

describe('parseUsageItem: what LiteLLM charged', () => {
  const item = (extra: Record<string, unknown>) => {
    const r = parseUsageItem(event(extra));
    if (!r.ok) throw new Error(r.reason);
    return r.item;
  };

  it('keeps a failure\'s response_cost (a broken stream\'s partial usage) and a failure at 0 free', () => {
    expect(item({ status: 'failure', response_cost: 0.00014000000000000001 }).costNano).toBe(140_000);
    expect(item({ status: 'failure', response_cost: 0 }).costNano).toBe(0);
    expect(item({ status: 'failure', response_cost: undefined }).costNano).toBe(0);
    expect(parseUsageItem(event({ status: 'failure', response_cost: -0.1 }))).toMatchObject({ ok: false });
  });

  it('gives a failure and a success of the same call different keys; a failure keeps its old key to find', () => {
    const success = item({});
    const failure = item({ status: 'failure' });
    expect(failure.dedupKey).not.toBe(success.dedupKey);
    expect(failure.unscopedFailureKey).toBe(success.dedupKey);
    expect(success.unscopedFailureKey).toBeNull();
    const noCallId = { litellm_call_id: undefined };
    expect(item({ ...noCallId, status: 'failure' }).dedupKey).not.toBe(item(noCallId).dedupKey);
    expect(item({ ...noCallId, status: 'failure' }).dedupKey).toMatch(/^h2:/);
    // the same failure twice is one key
    expect(item({ status: 'failure' }).dedupKey).toBe(failure.dedupKey);
  });

  it('marks successes priced at 0 with tokens as unpriced (not cache hits, not failures, not empty calls)', () => {
    const tokens = { prompt_tokens: 10, completion_tokens: 20, total_tokens: 30 };
    expect(item({ ...tokens, response_cost: 0 })).toMatchObject({ unpriced: true, metadata: { unpriced: true } });
    expect(item({ ...tokens, response_cost: '0.0' }).unpriced).toBe(true);
    expect(item({ prompt_tokens: 5, response_cost: 0 }).unpriced).toBe(true);
    expect(item({ ...tokens, response_cost: 0.0005 }).unpriced).toBe(false);
    expect(item({ ...tokens, response_cost: 0, cache_hit: true }).unpriced).toBe(false);
    expect(item({ ...tokens, response_cost: 0, status: 'failure' }).unpriced).toBe(false);
    expect(item({ response_cost: 0 }).unpriced).toBe(false);
    expect(item({ ...tokens, response_cost: 0, cache_hit: true }).metadata).not.toHaveProperty('unpriced');
  });
});
