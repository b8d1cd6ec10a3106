/**
 * A test group that needs a server which is not configured here is skipped with a printed reason;
 * under CI=true such a skip fails the run instead, so CI proves the real-server tests ran.
 * Returns whether the group runs.
 */
export function requireOrSkip(group: string, unavailable: string | undefined): boolean {
  if (!unavailable) return true;
  if (process.env.CI === 'true') throw new Error(`${group}: cannot run under CI=true: ${unavailable}`);
  process.stdout.write(`[skip] ${group}: ${unavailable}\n`);
  return false;
}
