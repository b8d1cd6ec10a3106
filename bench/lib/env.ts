import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Shared by the scenarios: run from the repository root, results under bench/results. */
export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
process.chdir(ROOT);
export const RESULTS = path.join(ROOT, 'bench/results');
export const env = process.env;
/** A numeric BENCH_* setting with its default. */
export const num = (k: string, d: number) => (env[k] ? Number(env[k]) : d);
/** The PostgreSQL server the bench creates (and drops) its own database on. */
export const benchDatabaseUrl = () => env.BENCH_DATABASE_URL ?? 'postgres://postgres:postgres@127.0.0.1:5432/postgres';
