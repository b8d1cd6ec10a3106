/**
 * Projected exhaustion from the recent burn rate: average daily credits over the last `window`
 * days (days without usage count as zero). Null when nothing is left or nothing is burning.
 */
export function projectExhaustion(remaining: number, daily: { day: string; credits: number }[], now: Date, window = 7): Date | null {
  if (remaining <= 0) return null;
  const since = new Date(now.getTime() - window * 86_400_000).toISOString().slice(0, 10);
  const burned = daily.filter((d) => d.day > since).reduce((n, d) => n + d.credits, 0);
  const perDay = burned / window;
  if (perDay <= 0) return null;
  return new Date(now.getTime() + (remaining / perDay) * 86_400_000);
}
