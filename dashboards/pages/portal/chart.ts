import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import type { UsageRow } from './api.js';

const COLORS = ['#2563eb', '#db2777', '#059669', '#d97706', '#7c3aed', '#0891b2', '#dc2626', '#4b5563'];
/** More groups than this are summed into "other" in the chart (the data table keeps every group). */
const MAX_SERIES = 8;

export interface ChartSeries {
  label: string;
  values: (number | null)[];
}

/** Usage rows (windows x groups) as chart columns: one x per window, one series per group, biggest groups first. */
export function toSeries(rows: UsageRow[], dimension: string | undefined): { xs: number[]; series: ChartSeries[] } {
  const xs = [...new Set(rows.map((r) => Date.parse(r.windowStart)))].sort((a, b) => a - b);
  const index = new Map(xs.map((x, i) => [x, i]));
  const groups = new Map<string, (number | null)[]>();
  for (const r of rows) {
    const label = dimension ? (r.groupBy?.[dimension] ?? '') : 'usage';
    let values = groups.get(label);
    if (!values) groups.set(label, (values = xs.map(() => null)));
    // A chart needs numbers; the exact decimals are in the value above the chart and in the data table.
    values[index.get(Date.parse(r.windowStart))!] = r.value === null ? null : Number(r.value);
  }
  const total = (v: (number | null)[]) => v.reduce<number>((s, x) => s + (x ?? 0), 0);
  const sorted = [...groups].sort((a, b) => total(b[1]) - total(a[1]));
  const series = sorted.slice(0, MAX_SERIES - 1).map(([label, values]) => ({ label, values }));
  const rest = sorted.slice(MAX_SERIES - 1);
  if (rest.length === 1) series.push({ label: rest[0]![0], values: rest[0]![1] });
  if (rest.length > 1)
    series.push({ label: 'other', values: xs.map((_, i) => rest.reduce<number | null>((s, [, v]) => (v[i] === null ? s : (s ?? 0) + v[i]!), null)) });
  return { xs, series };
}

/** A bar chart of the series in the customer's time zone, as wide as its container. */
export function drawChart(target: HTMLElement, data: { xs: number[]; series: ChartSeries[] }, timeZone: string, hourly: boolean): uPlot {
  const width = Math.max(280, target.clientWidth || 600);
  // One series: bars. A breakdown: lines, which stay readable where bars of several groups would overlap.
  const paths = data.series.length === 1 ? uPlot.paths.bars!({ size: [0.8, 40], align: 1 }) : undefined;
  const opts: uPlot.Options = {
    width,
    height: 220,
    tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), timeZone),
    scales: { x: { time: true } },
    axes: [{}, { size: 70 }],
    legend: { show: data.series.length > 1 },
    series: [
      { label: hourly ? 'Hour' : 'Day' },
      ...data.series.map((s, i) => ({
        label: s.label,
        stroke: COLORS[i % COLORS.length],
        ...(paths ? { fill: `${COLORS[i % COLORS.length]}99`, paths } : { width: 2 }),
        points: { show: !paths },
      })),
    ],
  };
  target.replaceChildren();
  return new uPlot(opts, [data.xs.map((x) => x / 1000), ...data.series.map((s) => s.values)], target);
}
