/**
 * `npm run bench -- bulk-real`: how fast the REAL pinned LiteLLM proxy (litellm/dev/run.sh with its
 * own database, as the real-LiteLLM tests start it) applies max_budget changes key by key
 * (POST /key/update, 8 and 32 at once) against POST /key/bulk_update (bulks of 50 and 100, 1, 2 and
 * 4 at once), in one run, so the ratio holds on a noisy machine. The bulk-per-key cost the scale
 * bench gives the contract fake (BENCH_SCALE_BULK_ITEM_MS) comes from this ratio.
 * BENCH_BULK_REAL_KEYS (400) keys, made with /key/generate; every mode updates each key once.
 * Per mode: seconds, keys/s, the slowest request, cores of LiteLLM + engine shim / others.
 * Report: stdout + bench/results/bulk-real.json.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createLiteLLMClient } from '../service/src/litellm/client.js';
import { inFlight } from '../service/src/lib/in-flight.js';
import { startRealLiteLLM } from '../service/test/support/litellm-real.js';
import { connect } from './lib/db.js';
import { benchDatabaseUrl, num, RESULTS } from './lib/env.js';
import { cpuSnapshot, machine } from './lib/proc.js';

const N = num('BENCH_BULK_REAL_KEYS', 400);
const say = (s: string) => process.stdout.write(`[bulk-real] ${s}\n`);

async function main() {
  mkdirSync(RESULTS, { recursive: true });
  const masterKey = `sk-bench-${randomUUID()}`;
  const litellm = await startRealLiteLLM({ masterKey, serverUrl: benchDatabaseUrl() });
  try {
    // No client-side timeout worth the name: a mode's slowest request is what is measured.
    const client = createLiteLLMClient({ baseUrl: litellm.url, masterKey, timeoutMs: 300_000, maxInFlight: 32 });
    const keys: string[] = [];
    await inFlight(Array.from({ length: N }, (_, i) => i), 8, async (i) => {
      keys.push((await client.generateKey({ keyAlias: `bulk-${i}-${randomUUID()}`, userId: `u${i}`, maxBudgetUsd: 1, metadata: {} })).token);
    });
    say(`${N} keys generated in LiteLLM`);
    const modes: Record<string, unknown>[] = [];
    const measure = async (mode: string, run: (slowest: (ms: number) => void) => Promise<void>) => {
      let slowest = 0;
      const a = cpuSnapshot(process.pid, undefined, undefined, litellm.pid);
      await run((ms) => void (slowest = Math.max(slowest, ms)));
      const b = cpuSnapshot(process.pid, undefined, undefined, litellm.pid);
      const wall = (b.at - a.at) / 1000;
      const cores = (x: number) => Math.round((x / wall) * 100) / 100;
      const r = {
        mode, seconds: Math.round(wall * 10) / 10, keysPerSecond: Math.round((N / wall) * 10) / 10, slowestRequestMs: Math.round(slowest),
        cores: { litellmAndShim: cores(b.group - a.group), postgres: cores(b.postgres - a.postgres), bench: cores(b.bench - a.bench), others: cores(b.machineBusy - a.machineBusy - (b.group - a.group) - (b.postgres - a.postgres) - (b.bench - a.bench)) },
      };
      modes.push(r);
      say(`${mode}: ${r.seconds} s, ${r.keysPerSecond} keys/s, slowest request ${r.slowestRequestMs} ms; cores LiteLLM+shim ${r.cores.litellmAndShim}, postgres ${r.cores.postgres}, others ${r.cores.others}`);
    };
    const single = (n: number) => measure(`/key/update, ${n} at once`, (slowest) => inFlight(keys, n, async (k) => {
      const t = performance.now();
      await client.updateKey(k, { maxBudgetUsd: Math.random() });
      slowest(performance.now() - t);
    }));
    const bulk = (size: number, n: number) => measure(`/key/bulk_update of ${size}, ${n} at once`, (slowest) => {
      const chunks: string[][] = [];
      for (let i = 0; i < keys.length; i += size) chunks.push(keys.slice(i, i + size));
      return inFlight(chunks, n, async (chunk) => {
        const t = performance.now();
        const r = await client.bulkUpdateBudgets(chunk.map((k) => ({ keyOrHash: k, maxBudgetUsd: Math.random() })));
        slowest(performance.now() - t);
        if (r.failed.length > 0) throw new Error(`bulk update: ${r.failed.length} keys failed: ${r.failed[0]!.reason}`);
      });
    });
    // Interleaved, so a slow spell of the machine does not land on one side only.
    await single(32);
    await bulk(100, 1);
    await single(8);
    await bulk(50, 2);
    await bulk(100, 4);
    await single(32);
    const best = (p: string) => Math.max(...modes.filter((m) => String(m.mode).startsWith(p)).map((m) => m.keysPerSecond as number));
    const ratio = Math.round((best('/key/update') / best('/key/bulk_update')) * 100) / 100;
    say(`best key by key ${best('/key/update')} keys/s, best in bulk ${best('/key/bulk_update')} keys/s: a bulk key costs ${ratio} of a /key/update`);
    const sql = connect(benchDatabaseUrl(), 1);
    const [v] = await sql<{ server_version: string }[]>`show server_version`;
    await sql.end();
    const pgVersion = v!.server_version;
    writeFileSync(path.join(RESULTS, 'bulk-real.json'), `${JSON.stringify({ scenario: 'bulk-real', at: new Date().toISOString(), machine: machine(pgVersion), params: { keys: N }, modes, bulkKeyCostRatio: ratio }, null, 2)}\n`);
    say('written bench/results/bulk-real.json');
  } finally {
    await litellm.stop();
  }
}

await main();
