import { parseCsv } from './csv';

export interface ReportRow { day: string; email: string; name: string; model: string; calls: number; tokens: number; credits: number; usd: number }
export interface Agg { key: string; label: string; calls: number; tokens: number; credits: number; usd: number }

/** Rows of GET /api/reports/usage.csv (header: day,email,name,model,calls,tokens,credits,usd). */
export function parseUsageCsv(text: string): ReportRow[] {
  const [header, ...rows] = parseCsv(text.replace(/^\ufeff/, ''));
  if (!header) return [];
  const ix = (k: string) => header.indexOf(k);
  const at = (r: string[], k: string) => r[ix(k)] ?? '';
  return rows
    .filter((r) => r.length >= header.length)
    .map((r) => ({
      day: at(r, 'day'),
      email: at(r, 'email'),
      name: at(r, 'name'),
      model: at(r, 'model'),
      calls: Number(at(r, 'calls')) || 0,
      tokens: Number(at(r, 'tokens')) || 0,
      credits: Number(at(r, 'credits')) || 0,
      usd: Number(at(r, 'usd')) || 0,
    }));
}

/** Sum rows by a key, largest credits first (days: chronological). */
export function aggregate(rows: ReportRow[], by: 'person' | 'model' | 'day'): Agg[] {
  const m = new Map<string, Agg>();
  for (const r of rows) {
    const key = by === 'person' ? r.email : by === 'model' ? r.model : r.day;
    const label = by === 'person' ? r.name || r.email : key;
    const a = m.get(key) ?? { key, label, calls: 0, tokens: 0, credits: 0, usd: 0 };
    a.calls += r.calls;
    a.tokens += r.tokens;
    a.credits += r.credits;
    a.usd += r.usd;
    m.set(key, a);
  }
  const list = [...m.values()];
  return by === 'day' ? list.sort((a, b) => (a.key < b.key ? -1 : 1)) : list.sort((a, b) => b.credits - a.credits);
}
