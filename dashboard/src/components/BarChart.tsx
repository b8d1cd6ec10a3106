import { createMemo, createSignal, For, onCleanup, onMount, Show } from 'solid-js';
import { useI18n } from '../i18n';

export interface Point { x: string; series: string; value: number }

const PALETTE = ['#2563eb', '#16a34a', '#f59e0b', '#db2777', '#7c3aed', '#0891b2', '#dc2626', '#65a30d'];

/** Group points into stacked columns: one per x (sorted), series in a stable order (largest first). */
export function stack(points: Point[], xs?: string[]) {
  const totals = new Map<string, number>();
  for (const p of points) totals.set(p.series, (totals.get(p.series) ?? 0) + p.value);
  const series = [...totals.keys()].sort((a, b) => (totals.get(b) ?? 0) - (totals.get(a) ?? 0));
  const cols = new Map<string, Map<string, number>>();
  for (const x of xs ?? []) cols.set(x, new Map());
  for (const p of points) {
    const col = cols.get(p.x) ?? new Map<string, number>();
    col.set(p.series, (col.get(p.series) ?? 0) + p.value);
    cols.set(p.x, col);
  }
  const columns = [...cols.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([x, m]) => ({ x, values: series.map((s) => m.get(s) ?? 0), total: series.reduce((n, s) => n + (m.get(s) ?? 0), 0) }));
  const max = columns.reduce((m, c) => Math.max(m, c.total), 0);
  return { series, columns, max };
}

/** The last `days` calendar days as YYYY-MM-DD (UTC), oldest first. */
export function lastDays(days: number, now = new Date()): string[] {
  const out: string[] = [];
  for (let i = days - 1; i >= 0; i--) out.push(new Date(now.getTime() - i * 86_400_000).toISOString().slice(0, 10));
  return out;
}

/** Stacked column chart in inline SVG (no chart library). */
export function BarChart(props: { points: Point[]; xs?: string[]; xLabel?: (x: string) => string; valueLabel?: (n: number) => string; height?: number }) {
  const { fmt } = useI18n();
  const data = createMemo(() => stack(props.points, props.xs));
  const [width, setWidth] = createSignal(800);
  let box: HTMLDivElement | undefined;
  onMount(() => {
    if (!box || typeof ResizeObserver === 'undefined') return;
    const ro = new ResizeObserver(([e]) => e && e.contentRect.width > 0 && setWidth(Math.round(e.contentRect.width)));
    ro.observe(box);
    onCleanup(() => ro.disconnect());
  });
  const W = () => width();
  const H = () => props.height ?? 220;
  const padL = 52;
  const padB = 22;
  const plotH = () => H() - padB - 8;
  const colW = () => (W() - padL) / Math.max(1, data().columns.length);
  const y = (v: number) => (data().max > 0 ? (v / data().max) * plotH() : 0);
  const label = (n: number) => (props.valueLabel ?? fmt().compact)(n);
  const every = () => Math.max(1, Math.ceil(data().columns.length / Math.max(2, Math.floor(W() / 70))));
  return (
    <div class="chart" ref={box}>
      <svg viewBox={`0 0 ${W()} ${H()}`} width={W()} height={H()} class="chart-svg" role="img">
        <For each={[0, 0.5, 1]}>
          {(f) => (
            <g>
              <line x1={padL} x2={W()} y1={8 + plotH() - f * plotH()} y2={8 + plotH() - f * plotH()} class="grid" />
              <text x={padL - 6} y={12 + plotH() - f * plotH()} text-anchor="end" class="axis">
                {label(data().max * f)}
              </text>
            </g>
          )}
        </For>
        <For each={data().columns}>
          {(col, i) => {
            let acc = 0;
            return (
              <g>
                <title>{`${props.xLabel ? props.xLabel(col.x) : col.x}: ${label(col.total)}`}</title>
                <For each={col.values}>
                  {(v, s) => {
                    const h = y(v);
                    const top = 8 + plotH() - y(acc) - h;
                    acc += v;
                    return <rect x={padL + i() * colW() + colW() * 0.12} width={Math.max(1, colW() * 0.76)} y={top} height={Math.max(0, h)} fill={PALETTE[s() % PALETTE.length]} />;
                  }}
                </For>
                <Show when={i() % every() === 0}>
                  <text x={padL + i() * colW() + colW() / 2} y={H() - 6} text-anchor="middle" class="axis">
                    {props.xLabel ? props.xLabel(col.x) : col.x}
                  </text>
                </Show>
              </g>
            );
          }}
        </For>
      </svg>
      <ul class="legend">
        <For each={data().series}>
          {(s, i) => (
            <li>
              <i class="sw" style={{ background: PALETTE[i() % PALETTE.length] }} /> {s}
            </li>
          )}
        </For>
      </ul>
    </div>
  );
}

/** Horizontal bars (e.g. usage by model). */
export function HBars(props: { items: { label: string; value: number }[]; valueLabel?: (n: number) => string }) {
  const { fmt } = useI18n();
  const max = () => props.items.reduce((m, i) => Math.max(m, i.value), 0) || 1;
  return (
    <ul class="hbars">
      <For each={props.items}>
        {(it, i) => (
          <li>
            <span class="hbar-label">{it.label}</span>
            <span class="hbar-track">
              <span class="hbar-fill" style={{ width: `${(it.value / max()) * 100}%`, background: PALETTE[i() % PALETTE.length] }} />
            </span>
            <span class="hbar-value">{(props.valueLabel ?? fmt().num)(it.value)}</span>
          </li>
        )}
      </For>
    </ul>
  );
}
