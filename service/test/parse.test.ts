import { describe, expect, it } from 'vitest';
import { prepareUsage } from '../src/domain/usage/ingest.js';
import { parseUsageItem, splitBody } from '../src/domain/usage/parse.js';

const HASH = 'a'.repeat(64);
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

  it('dead-letters malformed items as bounded, storable text, and dedupes within the batch', () => {
    const batch = prepareUsage([event(), event(), deep(10_000), { status: 'weird' }, 'x'.repeat(100_000)], ['not json \u0000']);
    expect(batch.good).toHaveLength(1);
    expect(batch.duplicate).toBe(1);
    expect(batch.dead.map((d) => d.reason)).toEqual(['line is not valid JSON', 'not a JSON object', 'unknown status "weird"', 'not a JSON object']);
    expect(batch.dead[0]!.payload).toBe('not json \ufffd');
    expect(batch.dead[1]!.payload).toContain('[nested too deep]');
    expect(batch.dead[3]!.payload.length).toBe(64 * 1024 + 1);
  });
});
