/**
 * `npm run bench [-- <scenario>]` (or BENCH_SCENARIO=<scenario>): see bench/README.md.
 * - ingestion (default): one service, sustained webhook load, ledger exactness (bench/ingestion.ts);
 * - latency: two replicas + LiteLLM fake + Resend capture: top-up → max_budget, 80 % → email,
 *   admin API under concurrent dashboard use, two-replica ingestion (bench/latency.ts);
 *   then top-up → first accepted chat through the REAL LiteLLM with its database (bench/topup-chat.ts);
 * - topup-chat: that last phase alone;
 * - scale: 100,000 people and keys: month boundary, factor change, reconciliation (bench/scale.ts);
 * - scale-real: the same three phases against the REAL LiteLLM with its database, 2,000 keys (bench/scale-real.ts);
 * - bulk-real: the REAL LiteLLM applying max_budgets key by key against /key/bulk_update (bench/bulk-real.ts);
 * - hotpath: three hot-path costs of ingestion against their alternatives, in one run (bench/hotpath.ts);
 * - bigbatches: 40 parallel ~9.5 MB webhook batches, peak RSS of the service (bench/bigbatches.ts).
 */
const SCENARIOS = {
  ingestion: ['./ingestion.js'],
  latency: ['./latency.js', './topup-chat.js'],
  'topup-chat': ['./topup-chat.js'],
  bigbatches: ['./bigbatches.js'],
  scale: ['./scale.js'],
  'scale-real': ['./scale-real.js'],
  'bulk-real': ['./bulk-real.js'],
  hotpath: ['./hotpath.js'],
} as const;
const scenario = process.argv[2] ?? process.env.BENCH_SCENARIO ?? 'ingestion';
if (!(scenario in SCENARIOS)) {
  console.error(`bench: unknown scenario "${scenario}" (one of: ${Object.keys(SCENARIOS).join(', ')})`);
  process.exit(2);
}
const { benchDatabaseUrl } = await import('./lib/env.js');
const { unreachable } = await import('./lib/db.js');
const why = await unreachable(benchDatabaseUrl());
if (why) {
  console.error(`bench: needs a PostgreSQL server where it may create and drop a database: ${why}; set BENCH_DATABASE_URL=postgres://user:password@host:5432/postgres`);
  process.exit(2);
}
for (const module of SCENARIOS[scenario as keyof typeof SCENARIOS]) await import(module);
export {};
