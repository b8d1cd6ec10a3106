/**
 * GraphQL protocol (what prisma-client-py 0.15 sends to a binary query engine) → JSON protocol
 * (what @prisma/query-engine-wasm accepts), and the answers back.
 *
 * prisma-client-py's builder (prisma/_builder.py, QueryBuilder.build_query) emits one regular shape:
 *   query|mutation { result: <action><Model>[OrThrow](arg: value, …) { field  relation(args) { … } } }
 * with values rendered by json.dumps (strings, numbers, booleans, null), enum literals, lists and
 * objects; Json fields travel as strings of JSON text; raw queries are
 *   mutation { result: queryRaw|executeRaw(query: "…", parameters: "[…]") }.
 * The JSON protocol equivalent is {modelName, action, query: {arguments, selection}}. Answers of the
 * JSON protocol tag typed scalars ({"$type":"DateTime"|"BigInt"|"Decimal"|"Json"|"Bytes","value"})
 * where the GraphQL protocol gave the bare value (Json as its JSON text), and key the result by the
 * full field name where the GraphQL protocol used the alias.
 */
import { Kind, parse, type FieldNode, type SelectionSetNode, type ValueNode } from 'graphql';
import type { Datamodel } from './datamodel.js';

export interface JsonQuery {
  modelName?: string;
  action: string;
  query: { arguments: Record<string, unknown>; selection: Record<string, unknown> };
}
export interface Translated {
  alias: string;
  json: JsonQuery;
}

const ACTIONS = [
  'findUnique', 'findFirst', 'findMany', 'createOne', 'createMany', 'updateOne', 'updateMany',
  'deleteOne', 'deleteMany', 'upsertOne', 'aggregate', 'groupBy',
] as const;
const RAW = new Set(['queryRaw', 'executeRaw']);

export class TranslationError extends Error {}

export function translateQuery(graphql: string, dm: Datamodel): Translated {
  const doc = parse(graphql);
  const op = doc.definitions[0];
  if (doc.definitions.length !== 1 || op?.kind !== Kind.OPERATION_DEFINITION) {
    throw new TranslationError('expected exactly one operation');
  }
  const root = op.selectionSet.selections;
  const field = root[0];
  if (root.length !== 1 || field?.kind !== Kind.FIELD) throw new TranslationError('expected exactly one root field');
  const name = field.name.value;
  const alias = field.alias?.value ?? name;
  const { action, modelName } = splitName(name);
  if (modelName && !dm.has(modelName)) throw new TranslationError(`unknown model ${modelName}`);
  const args: Record<string, unknown> = {};
  for (const a of field.arguments ?? []) args[a.name.value] = value(a.value);
  const json: JsonQuery = {
    action,
    query: {
      arguments: modelName ? typeJson(args, modelName, dm) as Record<string, unknown> : args,
      selection: selection(field.selectionSet),
    },
  };
  if (modelName) json.modelName = modelName;
  return { alias, json };
}

function splitName(name: string): { action: string; modelName?: string } {
  if (RAW.has(name)) return { action: name };
  for (const a of ACTIONS) {
    if (!name.startsWith(a)) continue;
    let model = name.slice(a.length);
    let action: string = a;
    if ((a === 'findUnique' || a === 'findFirst') && model.endsWith('OrThrow')) {
      model = model.slice(0, -'OrThrow'.length);
      action = `${a}OrThrow`;
    }
    return { action, modelName: model };
  }
  throw new TranslationError(`unsupported operation ${name}`);
}

function selection(set: SelectionSetNode | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const s of set?.selections ?? []) {
    if (s.kind !== Kind.FIELD) throw new TranslationError('fragments are not supported');
    out[s.name.value] = s.selectionSet || s.arguments?.length ? nested(s) : true;
  }
  return out;
}

function nested(f: FieldNode): Record<string, unknown> {
  const node: Record<string, unknown> = { selection: selection(f.selectionSet) };
  if (f.arguments?.length) {
    const args: Record<string, unknown> = {};
    for (const a of f.arguments) args[a.name.value] = value(a.value);
    node.arguments = args;
  }
  return node;
}

function value(v: ValueNode): unknown {
  switch (v.kind) {
    case Kind.STRING:
    case Kind.ENUM:
      return v.value;
    case Kind.INT: {
      const n = Number(v.value);
      return Number.isSafeInteger(n) ? n : { $type: 'BigInt', value: v.value };
    }
    case Kind.FLOAT:
      return Number(v.value);
    case Kind.BOOLEAN:
      return v.value;
    case Kind.NULL:
      return null;
    case Kind.LIST:
      return v.values.map(value);
    case Kind.OBJECT:
      return Object.fromEntries(v.fields.map((f) => [f.name.value, value(f.value)]));
    default:
      throw new TranslationError(`unsupported value kind ${v.kind}`);
  }
}

/** Json filter/update operators whose operand is a Json value (the rest take strings or paths). */
const JSON_OPERANDS = new Set(['set', 'equals', 'not']);

/**
 * Walks arguments with the model in scope: a Json field's string becomes {"$type":"Json"}; a
 * relation field switches the scope to the related model (nested create/connect/where…); any other
 * key (where, data, AND, create, …) keeps the scope.
 */
function typeJson(v: unknown, model: string, dm: Datamodel): unknown {
  if (Array.isArray(v)) return v.map((x) => typeJson(x, model, dm));
  if (!isPlainObject(v)) return v;
  const info = dm.get(model);
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) {
    if (info?.json.has(k)) out[k] = jsonOperand(x);
    else {
      const rel = info?.relations.get(k);
      out[k] = typeJson(x, rel ?? model, dm);
    }
  }
  return out;
}

function jsonOperand(x: unknown): unknown {
  if (typeof x === 'string') return { $type: 'Json', value: x };
  if (!isPlainObject(x)) return x;
  return Object.fromEntries(Object.entries(x).map(([k, y]) => [k, JSON_OPERANDS.has(k) ? jsonOperand(y) : y]));
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !('$type' in v);
}

/** A JSON-protocol answer's data, with typed scalars replaced by the bare values the GraphQL protocol gave. */
export function untype(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(untype);
  if (typeof v !== 'object' || v === null) return v;
  const o = v as Record<string, unknown>;
  if (typeof o.$type === 'string' && 'value' in o && Object.keys(o).length === 2) return o.value;
  return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, untype(x)]));
}

/**
 * One JSON-protocol answer ({"data":{"<field>":…}} or {"errors":[…]}) as the GraphQL protocol
 * gives it ({"data":{"<alias>":…}}); errors pass through (same shape in both protocols).
 */
export function answer(engineAnswer: unknown, t: Translated): unknown {
  const a = engineAnswer as { data?: Record<string, unknown>; errors?: unknown };
  if (a.errors || !a.data) return a;
  const v = Object.values(a.data)[0];
  if (t.json.action === 'queryRaw') return { data: { [t.alias]: legacyRaw(v as RawResult) } };
  return { data: { [t.alias]: t.json.action === 'executeRaw' ? v : untype(v) } };
}

interface RawResult { columns: string[]; types: string[]; rows: unknown[][] }
interface Typed { prisma__type: string; prisma__value: unknown }

/**
 * queryRaw rows as the 5.4 engine answered them and prisma-client-py 0.11 reads them
 * (prisma/_raw_query.py, _deserialize_prisma_object): one object per row, each column
 * {prisma__type, prisma__value}; arrays as {prisma__type: "array", prisma__value: [typed…]};
 * NULL as type "null". The 5.17 engine answers {columns, types: ["bigint", "text-array", …], rows}.
 */
export function legacyRaw(r: RawResult): Record<string, Typed>[] {
  const typed = (type: string, value: unknown): Typed => {
    if (value === null || value === undefined) return { prisma__type: 'null', prisma__value: null };
    if (type.endsWith('-array') && Array.isArray(value)) {
      const element = type.slice(0, -'-array'.length);
      return { prisma__type: 'array', prisma__value: value.map((x) => typed(element, x)) };
    }
    return { prisma__type: type === 'unknown' ? 'string' : type, prisma__value: value };
  };
  return r.rows.map((row) => Object.fromEntries(r.columns.map((c, i) => [c, typed(r.types[i] ?? 'unknown', row[i])])));
}
