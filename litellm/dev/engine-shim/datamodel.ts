/**
 * The little of a Prisma schema the shim needs: for each model, which fields are `Json` and which
 * are relations (and to which model). The binary engine's GraphQL protocol takes a Json value as a
 * string holding JSON text and parses it because it knows the field's type; the JSON protocol that
 * the WASM engine speaks stores a plain string as a JSON *string* and needs `{"$type":"Json"}`
 * instead, so the translator must know where Json fields are.
 */
export interface ModelInfo {
  json: Set<string>;
  relations: Map<string, string>;
}
export type Datamodel = Map<string, ModelInfo>;

const MODEL = /^model\s+(\w+)\s*\{([\s\S]*?)^\}/gm;
const FIELD = /^\s*(\w+)\s+(\w+)(\[\])?\??/;

export function parseDatamodel(schema: string): Datamodel {
  const models = new Map<string, string>();
  for (const m of schema.matchAll(MODEL)) models.set(m[1]!, m[2]!);
  const dm: Datamodel = new Map();
  for (const [name, body] of models) {
    const info: ModelInfo = { json: new Set(), relations: new Map() };
    for (const line of body.split('\n')) {
      const f = FIELD.exec(line.replace(/\/\/.*$/, ''));
      if (!f || f[1]!.startsWith('@')) continue;
      const [, field, type] = f;
      if (type === 'Json') info.json.add(field!);
      else if (models.has(type!)) info.relations.set(field!, type!);
    }
    dm.set(name, info);
  }
  return dm;
}
