import { DateTime } from 'luxon';
import { aggregate, fromUnits, toUnits, type OracleEvent } from './oracle.js';

/**
 * An independent model of billing exports, computed in JS from the test's own
 * log of what it sent and when (never from the system's tables): which events
 * and corrections were stored before each cutoff, each customer's periods (by
 * luxon's startOf/plus, not the job's code), and every meter's value.
 */
export interface LoggedOp {
  /** Wall time once the request that stored it had answered: stored before a cutoff later than this. */
  doneAt: number;
  event?: OracleEvent;
  void?: string;
  amend?: { eventId: string; quantity?: string; dimensions?: Record<string, string> };
}

export interface OracleMeter {
  key: string;
  metricName: string;
  aggregation: string;
  uniqueDimension?: string;
  filter?: Record<string, string[]>;
}

export interface OracleCycle {
  timezone: string;
  interval: 'month' | 'week' | 'day';
  anchorDay: number;
}

export interface OracleLine {
  customerId: string;
  meterKey: string;
  periodStart: string;
  periodEnd: string;
  kind: 'usage' | 'adjustment';
  value: string;
  events: number;
}

export function oraclePeriod(ms: number, c: OracleCycle): [number, number] {
  const t = DateTime.fromMillis(ms, { zone: c.timezone });
  let start: DateTime;
  if (c.interval === 'day') start = t.startOf('day');
  else if (c.interval === 'week') start = t.startOf('day').minus({ days: (t.weekday - c.anchorDay + 7) % 7 });
  else {
    start = t.startOf('month').plus({ days: c.anchorDay - 1 });
    if (start > t)
      start = t
        .minus({ months: 1 })
        .startOf('month')
        .plus({ days: c.anchorDay - 1 });
  }
  const end = start.plus(c.interval === 'month' ? { months: 1 } : c.interval === 'week' ? { weeks: 1 } : { days: 1 });
  return [start.toMillis(), end.toMillis()];
}

/** The events as of a cutoff: first payload wins, corrections applied in order, voided ones gone. */
/** The events as stored before `cutoff`: first payload of each id, with later amends applied and voided ones left out. */
export function stateAt(log: LoggedOp[], cutoff: number): OracleEvent[] {
  const events = new Map<string, OracleEvent | null>();
  for (const op of log.filter((o) => o.doneAt < cutoff)) {
    if (op.event && !events.has(op.event.eventId)) events.set(op.event.eventId, op.event);
    const current = op.amend ? events.get(op.amend.eventId) : undefined;
    if (op.amend && current)
      events.set(op.amend.eventId, {
        ...current,
        ...(op.amend.quantity ? { quantity: op.amend.quantity } : {}),
        ...(op.amend.dimensions ? { dimensions: op.amend.dimensions } : {}),
      });
    if (op.void && events.has(op.void)) events.set(op.void, null);
  }
  return [...events.values()].filter((e): e is OracleEvent => e !== null);
}

function valueOf(meter: OracleMeter, events: OracleEvent[]): string {
  const v = aggregate(meter.aggregation, events, meter.uniqueDimension);
  return v === null ? '0' : fromUnits(toUnits(String(v)));
}

/**
 * Expected lines of each export, given the cutoffs the exports recorded (in sequence order).
 * Cutoffs and `doneAt` are storage (engine, wall) time; periods are event time, which
 * stands `clockOffsetMs` from it when the test runs the product at another instant.
 */
export function expectedExports(
  log: LoggedOp[],
  meters: OracleMeter[],
  cycleOf: (customerId: string) => OracleCycle,
  graceMs: number,
  cutoffs: number[],
  clockOffsetMs = 0,
): OracleLine[][] {
  const exported = new Map<string, { value: bigint; events: number }>();
  return cutoffs.map((cutoff, k) => {
    const previous = k === 0 ? -Infinity : cutoffs[k - 1]! + clockOffsetMs;
    const closedAt = cutoff + clockOffsetMs;
    const groups = new Map<string, { customerId: string; meter: OracleMeter; start: number; end: number; events: OracleEvent[] }>();
    for (const e of stateAt(log, cutoff)) {
      const [start, end] = oraclePeriod(e.timestamp, cycleOf(e.customerId));
      for (const meter of meters) {
        if (e.metricName !== meter.metricName) continue;
        if (Object.entries(meter.filter ?? {}).some(([d, values]) => !values.includes(e.dimensions[d] ?? ''))) continue;
        const key = JSON.stringify([e.customerId, meter.key, start]);
        if (!groups.has(key)) groups.set(key, { customerId: e.customerId, meter, start, end, events: [] });
        groups.get(key)!.events.push(e);
      }
    }
    // keys exported before but now without events (all voided) are worth 0
    for (const key of exported.keys()) {
      if (groups.has(key)) continue;
      const [customerId, meterKey, start] = JSON.parse(key) as [string, string, number];
      const meter = meters.find((m) => m.key === meterKey)!;
      groups.set(key, { customerId, meter, start, end: oraclePeriod(start, cycleOf(customerId))[1], events: [] });
    }
    const lines: OracleLine[] = [];
    for (const [key, g] of groups) {
      if (g.end + graceMs > closedAt) continue;
      const before = exported.get(key) ?? { value: 0n, events: 0 };
      const value = toUnits(valueOf(g.meter, g.events)) - before.value;
      const events = g.events.length - before.events;
      if (value === 0n && events === 0) continue;
      const kind = g.end + graceMs <= previous ? 'adjustment' : 'usage';
      lines.push({
        customerId: g.customerId,
        meterKey: g.meter.key,
        periodStart: new Date(g.start).toISOString(),
        periodEnd: new Date(g.end).toISOString(),
        kind,
        value: fromUnits(value),
        events,
      });
      exported.set(key, { value: before.value + value, events: before.events + events });
    }
    return lines.sort((a, b) =>
      JSON.stringify([a.customerId, a.meterKey, a.periodStart]) < JSON.stringify([b.customerId, b.meterKey, b.periodStart]) ? -1 : 1,
    );
  });
}
