/**
 * Periods are calendar months in the configured time zone, named by their first day
 * ('2026-11-01'). The service owns them; LiteLLM's budget_duration is never used.
 */
// Making an Intl.DateTimeFormat costs far more than using one (it was 12 % of the service's CPU
// in a month-boundary rollover): one per time zone and use, kept for the process.
const monthFormats = new Map<string, Intl.DateTimeFormat>();
const instantFormats = new Map<string, Intl.DateTimeFormat>();
function formatter(cache: Map<string, Intl.DateTimeFormat>, timeZone: string, options: Intl.DateTimeFormatOptions): Intl.DateTimeFormat {
  let f = cache.get(timeZone);
  if (!f) cache.set(timeZone, (f = new Intl.DateTimeFormat('en-US', { ...options, timeZone })));
  return f;
}

export function periodOf(at: Date, timeZone: string): string {
  const parts = formatter(monthFormats, timeZone, { year: 'numeric', month: '2-digit' }).formatToParts(at);
  const year = parts.find((p) => p.type === 'year')?.value;
  const month = parts.find((p) => p.type === 'month')?.value;
  return `${year}-${month}-01`;
}

export function nextPeriod(period: string): string {
  const [y, m] = period.split('-').map(Number) as [number, number];
  return m === 12 ? `${y + 1}-01-01` : `${y}-${String(m + 1).padStart(2, '0')}-01`;
}

/** The instant a period starts in the time zone (for "from" filters and day counts). */
export function periodStartInstant(period: string, timeZone: string): Date {
  const key = `${timeZone}|${period}`;
  let at = startInstants.get(key);
  if (at === undefined) {
    if (startInstants.size > 10_000) startInstants.clear(); // a bound, never reached by real periods
    startInstants.set(key, (at = computeStartInstant(period, timeZone)));
  }
  return new Date(at);
}
/** Period starts already worked out (a month boundary asks the same few for every person). */
const startInstants = new Map<string, number>();

function computeStartInstant(period: string, timeZone: string): number {
  const [y, m] = period.split('-').map(Number) as [number, number];
  // Start from UTC midnight and correct by the zone's offset at that moment (twice for DST edges).
  let guess = Date.UTC(y, m - 1, 1);
  for (let i = 0; i < 2; i++) {
    const offset = zoneOffsetMs(new Date(guess), timeZone);
    guess = Date.UTC(y, m - 1, 1) - offset;
  }
  return guess;
}

function zoneOffsetMs(at: Date, timeZone: string): number {
  const parts = formatter(instantFormats, timeZone, {
    hourCycle: 'h23',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  }).formatToParts(at);
  const get = (t: string) => Number(parts.find((p) => p.type === t)?.value);
  const asUtc = Date.UTC(get('year'), get('month') - 1, get('day'), get('hour'), get('minute'), get('second'));
  return asUtc - Math.floor(at.getTime() / 1000) * 1000;
}

export function previousPeriod(period: string): string {
  const [y, m] = period.split('-').map(Number) as [number, number];
  return m === 1 ? `${y - 1}-12-01` : `${y}-${String(m - 1).padStart(2, '0')}-01`;
}

/** When the grace window of `period` ends: its start instant plus the grace minutes. */
export function graceEnd(period: string, timeZone: string, graceMinutes: number): Date {
  return new Date(periodStartInstant(period, timeZone).getTime() + graceMinutes * 60_000);
}

/**
 * Where usage events belong at `now` (docs/quotas.md, "Which period an event belongs to"):
 * an event belongs to the period containing its start time, read no later than `now` (a start
 * time in the future is a clock skew: the event belongs to its arrival); no start time → `now`.
 * It is charged to that period if it is the current one, or the previous one while the grace
 * window is open; otherwise to the current period, marked late. Cheap per event: the two
 * boundaries are computed once.
 */
export function periodPlacer(now: Date, timeZone: string, graceMinutes: number) {
  const current = periodOf(now, timeZone);
  const currentStart = periodStartInstant(current, timeZone).getTime();
  const previous = previousPeriod(current);
  const previousStart = periodStartInstant(previous, timeZone).getTime();
  const graceOpen = now.getTime() < currentStart + graceMinutes * 60_000;
  const nowMs = now.getTime();
  return {
    current,
    /** The instant the current period started. */
    currentStart: new Date(currentStart),
    previous,
    graceOpen,
    /** The period the event belongs to (by its start time). */
    periodOf(startTime: Date | null): string {
      const t = startTime ? Math.min(startTime.getTime(), nowMs) : nowMs;
      if (t >= currentStart) return current;
      if (t >= previousStart) return previous;
      return periodOf(new Date(t), timeZone);
    },
    /** How the event is charged: to the previous period (grace), or the current one, late or not. */
    place(startTime: Date | null): { period: string; previous: boolean; late: boolean } {
      const p = this.periodOf(startTime);
      if (p === current) return { period: p, previous: false, late: false };
      if (p === previous && graceOpen) return { period: p, previous: true, late: false };
      return { period: p, previous: false, late: true };
    },
  };
}
