import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ArrayColumn } from '../src/db/arrays.js';
import { rows } from '../src/db/client.js';
import { createTestDatabase, type TestDatabase } from './support/db.js';

let database: TestDatabase;
beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(() => database.close());

/** Characters that are special somewhere in an array literal, JSON, SQL or a terminal. */
const TRICKY = ['"', '\\', '{', '}', ',', ' ', '\t', '\n', "'", 'NULL', 'null', '\\"', '""', 'é', '€', '😀', '\u2028', '$1', '--'];

function randomText(rand: () => number): string {
  const n = Math.floor(rand() * 6);
  let s = '';
  for (let i = 0; i < n; i++) {
    const r = rand();
    s += r < 0.5 ? TRICKY[Math.floor(rand() * TRICKY.length)] : r < 0.8 ? String.fromCharCode(32 + Math.floor(rand() * 95)) : String.fromCodePoint(0x80 + Math.floor(rand() * 0x2000));
  }
  return s;
}

/** A small deterministic generator (the failures it finds can be replayed). */
function mulberry32(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('ArrayColumn literals, read back by the database', () => {
  it('text: 2,000 random strings of quotes, backslashes, braces, commas, whitespace, NULL-lookalikes and unicode come back as written', async () => {
    const rand = mulberry32(17);
    const values: (string | null)[] = [...TRICKY, '', ...Array.from({ length: 2_000 }, () => (rand() < 0.05 ? null : randomText(rand)))];
    const col = new ArrayColumn();
    for (const v of values) col.text(v);
    // read back as JSON text: postgres.js parses a NULL element of a text[] result as the string 'NULL'
    const [back] = await rows<{ v: string }>(database.db, sql`select array_to_json(${col.literal()}::text[])::text as v`);
    expect(JSON.parse(back!.v)).toEqual(values);
  });

  it('integers (up to 2^53 - 1, negative, zero), booleans and NULLs; a non-integer is refused before it reaches the database', async () => {
    const ints = new ArrayColumn();
    const nums = [0, 1, -1, 2 ** 31, Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER, null];
    for (const v of nums) ints.int(v);
    const bools = new ArrayColumn();
    for (const v of [true, false, true]) bools.bool(v);
    const [back] = await rows<{ i: string; b: string }>(
      database.db,
      sql`select array_to_json(${ints.literal()}::bigint[]::text[])::text as i, array_to_json(${bools.literal()}::boolean[])::text as b`,
    );
    expect(JSON.parse(back!.i)).toEqual(nums.map((n) => (n === null ? null : String(n))));
    expect(JSON.parse(back!.b)).toEqual([true, false, true]);
    expect(() => new ArrayColumn().int(0.5)).toThrow(RangeError);
    expect(() => new ArrayColumn().int(2 ** 53)).toThrow(RangeError);
  });
});
