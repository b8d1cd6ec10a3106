/**
 * The Prisma engine shim (litellm/dev/engine-shim): the GraphQL bodies prisma-client-py 0.11
 * builds (fixtures generated with its own QueryBuilder against LiteLLM's schema) become the JSON
 * protocol the WASM engine takes, and its answers become what prisma-client-py reads. The shim's
 * answers themselves come from the real engine; the real-LiteLLM tests run it end to end.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseDatamodel } from '../../litellm/dev/engine-shim/datamodel.js';
import { datasourceUrl, poolConfig, relabelTextTypes } from '../../litellm/dev/engine-shim/engine.js';
import { answer, legacyRaw, translateQuery, TranslationError, untype } from '../../litellm/dev/engine-shim/translate.js';
import { litellmVenv } from './support/requires.js';

const queries = JSON.parse(readFileSync(new URL('./fixtures/prisma-client-py-0.11-queries.json', import.meta.url), 'utf8')) as Record<string, string>;
const SCHEMA = `
datasource client {
  provider = "postgresql"
  url      = env("DATABASE_URL")
}
model LiteLLM_BudgetTable {
  budget_id String @id @default(uuid())
  max_budget Float?
  model_max_budget Json?
  keys LiteLLM_VerificationToken[] // relation back
}
model LiteLLM_VerificationToken {
  token String @id
  spend Float @default(0.0)
  models String[]
  metadata Json @default("{}")
  user_id String?
  budget_id String?
  litellm_budget_table LiteLLM_BudgetTable? @relation(fields: [budget_id], references: [budget_id])
}
model LiteLLM_SpendLogs {
  request_id String @id
  api_key String @default("")
  spend Float @default(0.0)
  startTime DateTime
}
`;
const dm = parseDatamodel(SCHEMA);

describe('datamodel', () => {
  it('knows Json fields and relations per model', () => {
    expect([...dm.get('LiteLLM_VerificationToken')!.json]).toEqual(['metadata']);
    expect(dm.get('LiteLLM_VerificationToken')!.relations.get('litellm_budget_table')).toBe('LiteLLM_BudgetTable');
    expect(dm.get('LiteLLM_BudgetTable')!.relations.get('keys')).toBe('LiteLLM_VerificationToken');
    expect([...dm.get('LiteLLM_BudgetTable')!.json]).toEqual(['model_max_budget']);
  });

  const realSchema = `${litellmVenv()}/lib/python3.11/site-packages/litellm/proxy/schema.prisma`;
  it.runIf(readable(realSchema))("parses LiteLLM's real schema: every model, its Json fields", () => {
    const real = readFileSync(realSchema, 'utf8');
    const parsed = parseDatamodel(real);
    expect(parsed.size).toBe([...real.matchAll(/^model\s+\w+/gm)].length);
    expect(parsed.get('LiteLLM_VerificationToken')!.json).toContain('metadata');
  });
});

function readable(p: string): boolean {
  try {
    readFileSync(p);
    return true;
  } catch {
    return false;
  }
}

describe('GraphQL → JSON protocol', () => {
  it('findUnique with an include: model, action, where, every scalar and the nested relation', () => {
    const t = translateQuery(queries.find_unique_include!, dm);
    expect(t.alias).toBe('result');
    expect(t.json).toMatchObject({ modelName: 'LiteLLM_VerificationToken', action: 'findUnique', query: { arguments: { where: { token: 'abc' } } } });
    expect(t.json.query.selection).toMatchObject({ token: true, spend: true, metadata: true, litellm_budget_table: { selection: { budget_id: true, max_budget: true } } });
  });

  it('create: a Json field travels as its JSON text, tagged so the engine parses it; lists stay lists', () => {
    const t = translateQuery(queries.create_json!, dm);
    expect(t.json.action).toBe('createOne');
    expect(t.json.query.arguments).toEqual({
      data: { token: 'abc', metadata: { $type: 'Json', value: '{"a": 1, "s": "\\u00e9\\"q"}' }, spend: 0.5, models: ['m'] },
    });
  });

  it('update with an atomic increment, findMany with orderBy enum and take, count, queryRaw', () => {
    expect(translateQuery(queries.update_increment!, dm).json).toMatchObject({ action: 'updateOne', query: { arguments: { data: { spend: { increment: 0.25 } } } } });
    expect(translateQuery(queries.find_many_order!, dm).json.query.arguments).toEqual({
      where: { api_key: 'abc', startTime: { gte: '2026-01-01T00:00:00+00:00' } }, orderBy: { startTime: 'desc' }, take: 10,
    });
    expect(translateQuery(queries.count!, dm).json).toEqual({
      modelName: 'LiteLLM_VerificationToken', action: 'aggregate',
      query: { arguments: { where: { user_id: 'u' } }, selection: { _count: { selection: { _all: true } } } },
    });
    expect(translateQuery(queries.query_raw!, dm).json).toEqual({
      action: 'queryRaw', query: { arguments: { query: "SELECT 1 WHERE $1 = 'x'", parameters: '["x"]' }, selection: {} },
    });
  });

  it('Json operands in filters and updates are tagged; nested creates switch model', () => {
    const q = `mutation { result: updateOneLiteLLM_BudgetTable(where: {budget_id: "b"}, data: {model_max_budget: {set: "{}"}, keys: {create: {token: "t", metadata: "[1]"}}}) { budget_id } }`;
    expect(translateQuery(q, dm).json.query.arguments).toEqual({
      where: { budget_id: 'b' },
      data: { model_max_budget: { set: { $type: 'Json', value: '{}' } }, keys: { create: { token: 't', metadata: { $type: 'Json', value: '[1]' } } } },
    });
  });

  it('OrThrow variants, integers beyond 2^53 as BigInt, and refuses what it cannot translate', () => {
    const q = 'query { result: findFirstLiteLLM_SpendLogsOrThrow(where: {spend: {gt: 9007199254740993}}) { request_id } }';
    expect(translateQuery(q, dm).json).toMatchObject({ action: 'findFirstOrThrow', modelName: 'LiteLLM_SpendLogs', query: { arguments: { where: { spend: { gt: { $type: 'BigInt', value: '9007199254740993' } } } } } });
    expect(() => translateQuery('query { result: findManyNoSuchModel { a } }', dm)).toThrow(TranslationError);
    expect(() => translateQuery('query { a: findManyLiteLLM_SpendLogs { a } b: findManyLiteLLM_SpendLogs { a } }', dm)).toThrow('exactly one root field');
    expect(() => translateQuery('subscription { result: somethingElse { a } }', dm)).toThrow('unsupported operation');
  });
});

describe('answers back to the GraphQL protocol', () => {
  it('untags DateTime/BigInt/Decimal/Json (Json as its text) and keys the result by alias', () => {
    const t = translateQuery(queries.find_unique_include!, dm);
    const a = answer({ data: { findUniqueLiteLLM_VerificationToken: {
      token: 'abc', metadata: { $type: 'Json', value: '{"a":1}' }, created_at: { $type: 'DateTime', value: '2026-12-01T00:00:00.000Z' },
      tpm_limit: { $type: 'BigInt', value: '5' }, litellm_budget_table: { max_budget: { $type: 'Decimal', value: '1.5' } },
    } } }, t);
    expect(a).toEqual({ data: { result: { token: 'abc', metadata: '{"a":1}', created_at: '2026-12-01T00:00:00.000Z', tpm_limit: '5', litellm_budget_table: { max_budget: '1.5' } } } });
    expect(untype([{ $type: 'DateTime', value: 'x' }, null, 1])).toEqual(['x', null, 1]);
  });

  it('passes errors through unchanged (same shape in both protocols)', () => {
    const err = { errors: [{ error: 'x', user_facing_error: { is_panic: false, message: 'm', meta: {}, error_code: 'P2002' } }] };
    expect(answer(err, translateQuery(queries.create_json!, dm))).toBe(err);
  });

  it('queryRaw rows become the {prisma__type, prisma__value} objects prisma-client-py 0.11 reads', () => {
    expect(legacyRaw({ columns: ['a', 'b', 'v', 'n'], types: ['bigint', 'datetime', 'string-array', 'int'], rows: [['1', '2026-01-01T00:00:00+00:00', ['x', 'y'], null]] })).toEqual([{
      a: { prisma__type: 'bigint', prisma__value: '1' },
      b: { prisma__type: 'datetime', prisma__value: '2026-01-01T00:00:00+00:00' },
      v: { prisma__type: 'array', prisma__value: [{ prisma__type: 'string', prisma__value: 'x' }, { prisma__type: 'string', prisma__value: 'y' }] },
      n: { prisma__type: 'null', prisma__value: null },
    }]);
  });

  it('name / name[] columns are relabelled text / text[] for the adapter', () => {
    const r = relabelTextTypes({ fields: [{ dataTypeID: 19 }, { dataTypeID: 1003 }, { dataTypeID: 23 }], rows: [['v', '{a,b}', 1]] }, (s) => s.slice(1, -1).split(','));
    expect(r).toEqual({ fields: [{ dataTypeID: 25 }, { dataTypeID: 1009 }, { dataTypeID: 23 }], rows: [['v', ['a', 'b'], 1]] });
  });
});

describe('connection settings', () => {
  it("takes OVERWRITE_DATASOURCES, else the schema's env var; Prisma-only URL parameters are dropped", () => {
    expect(datasourceUrl(SCHEMA, { DATABASE_URL: 'postgres://a/b' })).toBe('postgres://a/b');
    expect(datasourceUrl(SCHEMA, { DATABASE_URL: 'postgres://a/b', OVERWRITE_DATASOURCES: '[{"name":"client","url":"postgres://c/d"}]' })).toBe('postgres://c/d');
    expect(() => datasourceUrl(SCHEMA, {})).toThrow('DATABASE_URL is not set');
    const cfg = poolConfig('postgres://u:p@h:5432/db?connection_limit=7&pool_timeout=60&options=-c%20statement_timeout%3D5000');
    expect(cfg).toEqual({ connectionString: 'postgres://u:p@h:5432/db?options=-c+statement_timeout%3D5000', max: 7 });
  });
});
