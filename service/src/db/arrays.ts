/**
 * PostgreSQL array literals built column by column, for statements that take a row set as
 * `unnest($1::text[], $2::bigint[], …)`: PostgreSQL decodes an array literal in about half the
 * time json_to_recordset takes for the same rows (it builds no per-object field table), and the
 * literal is shorter than the JSON (bench/README.md, `npm run bench -- hotpath`, part C).
 */
export class ArrayColumn {
  private readonly parts: string[] = [];

  /** A text element: quoted, `"` and `\` escaped (the only characters special inside quotes); null/undefined is NULL. */
  text(v: string | null | undefined): void {
    if (v === null || v === undefined) this.parts.push('NULL');
    else this.parts.push(`"${NEEDS_ESCAPE.test(v) ? v.replace(ESCAPE, '\\$&') : v}"`);
  }

  /** An integer element (a safe integer: the caller's values are counted or exact amounts); null/undefined is NULL. */
  int(v: number | null | undefined): void {
    if (v === null || v === undefined) this.parts.push('NULL');
    else if (Number.isSafeInteger(v)) this.parts.push(String(v));
    else throw new RangeError(`not a safe integer: ${v}`);
  }

  bool(v: boolean): void {
    this.parts.push(v ? 't' : 'f');
  }

  get length(): number {
    return this.parts.length;
  }

  /** The literal, e.g. `{"a",NULL,"b\"c"}`. */
  literal(): string {
    return `{${this.parts.join(',')}}`;
  }
}

const NEEDS_ESCAPE = /["\\]/;
const ESCAPE = /["\\]/g;
