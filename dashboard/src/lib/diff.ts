export interface DiffRow { path: string; before: unknown; after: unknown }

const isObj = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v);

/** Flattened differences between two JSON values (dotted paths); unchanged leaves are left out. */
export function diff(before: unknown, after: unknown, prefix = ''): DiffRow[] {
  if (isObj(before) && isObj(after)) {
    const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
    return keys.flatMap((k) => diff(before[k], after[k], prefix ? `${prefix}.${k}` : k));
  }
  if (isObj(before) && (after === null || after === undefined)) return diff(before, {}, prefix);
  if ((before === null || before === undefined) && isObj(after)) return diff({}, after, prefix);
  if (JSON.stringify(before) === JSON.stringify(after)) return [];
  return [{ path: prefix || '·', before, after }];
}

export const show = (v: unknown) => (v === undefined ? '' : typeof v === 'string' ? v : JSON.stringify(v));
