import { sql, type SQL } from 'drizzle-orm';
import { rows, type Queryable } from '../../src/db/client.js';

interface PlanNode {
  'Relation Name'?: string;
  'Actual Rows'?: number;
  'Actual Loops'?: number;
  'Rows Removed by Filter'?: number;
  'Rows Removed by Index Recheck'?: number;
  Plans?: PlanNode[];
}

/**
 * What running `query` read from `table` (its scans and index scans), from EXPLAIN ANALYZE: rows
 * returned or filtered out, and scan loops (rows are per loop, rounded: a probe that finds
 * nothing shows 0 rows, one loop). Plan-agnostic: whatever plan PostgreSQL or PGlite picks, a
 * query that reads the whole table shows it here.
 */
export async function readFrom(db: Queryable, table: string, query: SQL): Promise<{ rows: number; loops: number }> {
  const [r] = await rows<Record<string, unknown>>(db, sql`explain (analyze, format json) ${query}`);
  const raw = r!['QUERY PLAN'] ?? Object.values(r!)[0];
  const plan = (typeof raw === 'string' ? JSON.parse(raw) : raw) as { Plan: PlanNode }[];
  const walk = (n: PlanNode): { rows: number; loops: number } => {
    // scans that name the table (sequential, index, index-only, bitmap heap); a bitmap index scan's
    // entries are its heap scan's rows, counted there
    const mine = n['Relation Name'] === table;
    const loops = mine ? (n['Actual Loops'] ?? 1) : 0;
    const read = mine ? ((n['Actual Rows'] ?? 0) + (n['Rows Removed by Filter'] ?? 0) + (n['Rows Removed by Index Recheck'] ?? 0)) * loops : 0;
    return (n.Plans ?? []).map(walk).reduce((a, c) => ({ rows: a.rows + c.rows, loops: a.loops + c.loops }), { rows: read, loops });
  };
  return walk(plan[0]!.Plan);
}
