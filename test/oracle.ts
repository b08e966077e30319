import { DateTime } from 'luxon';

/** An independent, in-JS computation of meter values from a deduplicated event list (BigInt decimals, scale 9). */
export interface OracleEvent {
  eventId: string;
  customerId: string;
  metricName: string;
  timestamp: number;
  quantity: string;
  dimensions: Record<string, string>;
}

const SCALE = 1_000_000_000n;

export function toUnits(q: string): bigint {
  const [i, f = ''] = q.split('.');
  return BigInt(i!) * SCALE + BigInt((f + '000000000').slice(0, 9));
}

export function fromUnits(u: bigint): string {
  const sign = u < 0n ? '-' : '';
  const a = u < 0n ? -u : u;
  const frac = (a % SCALE).toString().padStart(9, '0').replace(/0+$/, '');
  return `${sign}${a / SCALE}${frac ? `.${frac}` : ''}`;
}

export function aggregate(aggregation: string, events: OracleEvent[], uniqueDimension = 'region'): string | number | null {
  const n = events.length;
  if (aggregation === 'COUNT') return n;
  if (aggregation === 'UNIQUE_COUNT') return new Set(events.filter((e) => uniqueDimension in e.dimensions).map((e) => e.dimensions[uniqueDimension])).size;
  if (aggregation === 'SUM') return fromUnits(events.reduce((s, e) => s + toUnits(e.quantity), 0n));
  if (n === 0) return null;
  const units = events.map((e) => toUnits(e.quantity));
  if (aggregation === 'MIN') return fromUnits(units.reduce((a, b) => (b < a ? b : a)));
  if (aggregation === 'MAX') return fromUnits(units.reduce((a, b) => (b > a ? b : a)));
  if (aggregation === 'AVG') return fromUnits(units.reduce((a, b) => a + b, 0n) / BigInt(n)); // truncates toward zero, as Decimal division does
  if (aggregation === 'LATEST') {
    const latest = events.reduce((a, b) => (b.timestamp > a.timestamp || (b.timestamp === a.timestamp && b.eventId > a.eventId) ? b : a));
    return fromUnits(toUnits(latest.quantity));
  }
  const p = { P50: 0.5, P90: 0.9, P95: 0.95, P99: 0.99 }[aggregation];
  if (p === undefined) throw new Error(`no oracle for ${aggregation}`);
  const sorted = [...units].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  // nearest rank, never interpolated: the value at position floor(p * n)
  return fromUnits(sorted[Math.min(n - 1, Math.floor(p * n))]!);
}

/** The local window start of an instant, by luxon, independent of the engine's own bucketing. */
export function windowStart(ms: number, granularity: string, tz: string, fromMs: number): number {
  if (granularity === 'total') return fromMs;
  return DateTime.fromMillis(ms, { zone: tz })
    .startOf(granularity as 'hour')
    .toMillis();
}
