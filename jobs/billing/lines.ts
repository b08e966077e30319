import type { Db, QueryTags } from '../../sql/query.js';
import { listMeters } from '../../sql/queries/meters.js';
import { customersByIds, cyclesOfTenant, movedCustomers } from '../../sql/queries/customers.js';
import { meterGroups, metersValuesAsOf, periodParamBytes, touchedDays, type PeriodRef } from '../../sql/queries/billing-usage.js';
import { exportedValues, type LineRow } from '../../sql/queries/exports.js';
import { LONGEST_PERIOD_MS, overlappingPeriodsMemo, periodOf, type BillingCycle } from './periods.js';
import { decimal, units } from './decimal.js';
import { DAY_MS } from '../../domain/time.js';
import { timeSlices } from '../../sql/slices.js';

export interface BillingSettings {
  graceMs: number;
  cutoffLagMs: number;
  /**
   * The product clock's offset from the engine's (domain/clock.ts; 0 in
   * production). A cutoff is engine time (it compares with stored_at); the
   * periods it closes are in event time: those ending by cutoff + offset - grace.
   */
  clockOffsetMs: number;
  /** The cycle of a customer without a record. */
  defaultCycle: BillingCycle;
}

export interface PreviousExport {
  sequence: number;
  cutoffMs: number;
}

const CUSTOMERS_PER_QUERY = 500;

/** How a close run cuts and bounds its meter statements (CloseOptions.statements; tests shrink both). */
export interface CloseStatementBounds {
  /**
   * About this many bytes of bound periods per meter statement (periodParamBytes). Each statement reads the
   * tenant's whole log in its range, so fewer statements cost less: 30 statements of 500 customers each took
   * 11.3-11.8 s where one per meter took 2.1-2.3 s, same events (docs/benchmarks.md, "The close's meter statements");
   * meters that read the same events share one (meterGroups).
   * The bound keeps a statement's values under a server's URL limit (http_max_uri_size, 1 MiB by default:
   * @clickhouse/client sends them as URL parameters, where escaping can triple a byte).
   */
  periodBytes: number;
  /**
   * The engine memory a meter statement's grouping holds before it spills to disk
   * (max_bytes_before_external_group_by; BILLING_CLOSE_SPILL_BYTES). Without chunks of
   * customers, this is what bounds the statement's memory: its grouping is by event
   * id over every event of the tenant in range.
   */
  groupBySpillBytes: number;
}

export const DEFAULT_CLOSE_STATEMENT_BOUNDS: CloseStatementBounds = { periodBytes: 256 * 1024, groupBySpillBytes: 512 * 1024 * 1024 };

/** `periods` cut into consecutive runs, each of at most `bytes` of bound values (periodParamBytes), and at least one period. */
export function periodChunks<P extends PeriodRef>(periods: readonly P[], bytes: number): P[][] {
  const chunks: P[][] = [];
  let chunk: P[] = [];
  let size = 0;
  for (const p of periods) {
    const n = periodParamBytes(p);
    if (chunk.length > 0 && size + n > bytes) {
      chunks.push(chunk);
      chunk = [];
      size = 0;
    }
    chunk.push(p);
    size += n;
  }
  if (chunk.length > 0) chunks.push(chunk);
  return chunks;
}
/**
 * A move is looked for from this long before the previous cutoff. A record's cycle_moved_at is the engine's clock,
 * like a cutoff, and a customer gets lines only from a run whose cutoff is after its move (lateMovers), so the
 * previous cutoff would do; records moved before that rule carry the API's clock. Reading a customer as moved in
 * more runs than needed bills nothing twice (a line is the new value minus what was exported), it only costs the read.
 */
const MOVE_CLOCK_SKEW_MS = 3_600_000;

/**
 * The customers a close run with this cutoff leaves out of its export: each moved to another time zone or cycle at
 * or after the cutoff, before it had an export line. The run may have read the record from before the move (lines of
 * the old cycle, which the API's move would contradict); a later run bills it as moved. The run looks after its
 * lines are written and removes theirs (jobs/billing/cycle-moves.ts has the API's half). A move is stored with the
 * engine's clock (the cutoff's); one stored before the cutoff is visible by the time a run reads records, as an
 * event's is (BILLING_CUTOFF_LAG_MS).
 */
export async function lateMovers(db: Db, tenantId: string, cutoffMs: number, prev: PreviousExport | undefined, tags: QueryTags): Promise<string[]> {
  return (await movedCustomers(db, { tenantId, movedSinceMs: cutoffMs, uptoSequence: prev?.sequence ?? 0 }, tags)).map((m) => m.customerId);
}

interface PeriodToBill extends PeriodRef {
  /** Closed by the previous export: only adjustments; otherwise it closes now: usage lines. */
  closedBefore: boolean;
}

const keyOf = (customerId: string, meterKey: string, startMs: number) => JSON.stringify([customerId, meterKey, startMs]);

/** Whether a period of any of these cycles ends in (afterMs, untilMs]: per cycle, the one holding afterMs is the first to end after it. */
function anyPeriodEnds(cycles: readonly BillingCycle[], afterMs: number, untilMs: number): boolean {
  return cycles.some((c) => periodOf(afterMs, c).endMs <= untilMs);
}

const sameCycles = (a: readonly BillingCycle[], b: readonly BillingCycle[]) => {
  const keys = (cycles: readonly BillingCycle[]) => JSON.stringify(cycles.map((c) => [c.timezone, c.interval, c.anchorDay]).sort());
  return keys(a) === keys(b);
};

/**
 * The periods a run with this cutoff must bill: newly closed ones, and previously closed ones whose events changed.
 * When no cycle in use (the default, every customer record's) has a period ending since the previous run's
 * closedBefore (most runs: one a minute, periods of a day or more), nothing closes now: only days with rows
 * stored since the previous cutoff can change a line, and the run reads those alone instead of every
 * customer's last 32 days. A record whose cycle changes while the run reads makes it read everything again.
 */
async function periodsToBill(
  db: Db,
  tenantId: string,
  s: BillingSettings,
  cutoffMs: number,
  prev: PreviousExport | undefined,
  metrics: string[],
  tags: QueryTags,
  readEverything = false,
): Promise<PeriodToBill[]> {
  const closedBeforeMs = cutoffMs + s.clockOffsetMs - s.graceMs;
  const prevClosedBeforeMs = prev ? prev.cutoffMs + s.clockOffsetMs - s.graceMs : -Infinity;
  const cyclesInUse = async (): Promise<BillingCycle[]> => [s.defaultCycle, ...(await cyclesOfTenant(db, { tenantId }, tags))];
  const inUse = prev && !readEverything ? await cyclesInUse() : undefined;
  const closesNow = inUse === undefined || anyPeriodEnds(inUse, prevClosedBeforeMs, closedBeforeMs);
  const reReadFromMs = Math.max(0, prevClosedBeforeMs - LONGEST_PERIOD_MS);
  // A customer moved to another cycle has no exports, so its events stored before the previous cutoff are in periods
  // of its old cycle that were still open then, which began at most the longest period before the previous closedBefore.
  const moved = prev ? await movedCustomers(db, { tenantId, movedSinceMs: prev.cutoffMs - MOVE_CLOCK_SKEW_MS, uptoSequence: prev.sequence }, tags) : [];
  const days = await touchedDays(
    db,
    {
      tenantId,
      metrics,
      cutoffMs,
      closedBeforeMs,
      sinceMs: prev?.cutoffMs ?? 0,
      newFromMs: !prev ? 0 : closesNow ? reReadFromMs : closedBeforeMs,
      moved: moved.length > 0 ? { customerIds: moved.map((m) => m.customerId), fromMs: reReadFromMs } : undefined,
    },
    tags,
  );
  const cycles = new Map<string, BillingCycle>();
  for (let i = 0; i < days.length; i += CUSTOMERS_PER_QUERY) {
    const ids = days.slice(i, i + CUSTOMERS_PER_QUERY).map((c) => c.customerId);
    for (const c of await customersByIds(db, { tenantId, ids }, tags)) {
      cycles.set(c.customerId, { timezone: c.timezone, interval: c.interval, anchorDay: c.anchorDay });
    }
  }
  const periods: PeriodToBill[] = [];
  const overlapping = overlappingPeriodsMemo();
  // A tenant's touched days and periods can number in the hundreds of thousands: the loops over them let requests in.
  const slice = timeSlices();
  for (const touched of days) {
    await slice();
    const cycle = cycles.get(touched.customerId) ?? s.defaultCycle;
    const seen = new Set<number>();
    for (const [j, dayMs] of touched.dayMs.entries()) {
      for (const p of overlapping(dayMs, dayMs + DAY_MS, cycle)) {
        // closes once periodEnd + grace has passed at the cutoff
        if (p.endMs > closedBeforeMs || seen.has(p.startMs)) continue;
        const closedBefore = p.endMs <= prevClosedBeforeMs;
        if (closedBefore && !touched.changed[j]) continue;
        seen.add(p.startMs);
        periods.push({ customerId: touched.customerId, ...p, closedBefore });
      }
    }
  }
  // The days read were chosen by the cycles in use before: if a record's cycle changed since, read everything.
  if (inUse && !closesNow && !sameCycles(inUse, await cyclesInUse())) return periodsToBill(db, tenantId, s, cutoffMs, prev, metrics, tags, true);
  return periods;
}

/**
 * The lines of the export a run with this cutoff writes after `prev`: a
 * function of the events as of the cutoff and of the lines exported up to
 * `prev`, nothing else (so a re-run or a second instance computes the same).
 * A usage line per (customer, billable meter) for each newly closed period; an
 * adjustment per (customer, billable meter, previously closed period) whose
 * value changed: new value minus everything exported for it so far. A period
 * with no events is worth 0 (and 0 events) whatever the aggregation. No line
 * has both value and events 0.
 */
export async function computeLines(
  db: Db,
  tenantId: string,
  s: BillingSettings,
  cutoffMs: number,
  prev: PreviousExport | undefined,
  tags: QueryTags = {},
  bounds: CloseStatementBounds = DEFAULT_CLOSE_STATEMENT_BOUNDS,
): Promise<LineRow[]> {
  const meters = (await listMeters(db, tenantId)).filter((m) => m.billable);
  if (meters.length === 0) return [];
  const periods = await periodsToBill(db, tenantId, s, cutoffMs, prev, [...new Set(meters.map((m) => m.metricName))], tags);
  if (periods.length === 0) return [];

  const current = new Map<string, { value: string; events: number }>();
  const spilling: Db = { ...db, readSettings: { ...db.readSettings, max_bytes_before_external_group_by: bounds.groupBySpillBytes } };
  // Meters that read the same events share a statement: each statement reads the tenant's log in range.
  const groups = meterGroups(meters);
  for (const chunk of periodChunks(periods, bounds.periodBytes)) {
    for (const group of groups) {
      for (const v of await metersValuesAsOf(spilling, { tenantId, cutoffMs, meters: group, periods: chunk }, tags)) {
        for (const [i, meter] of group.entries()) current.set(keyOf(v.customerId, meter.key, v.startMs), { value: v.values[i]!, events: v.events });
      }
    }
  }
  const exported = new Map<string, { value: string; events: number }>();
  const adjusted = prev ? [...new Set(periods.filter((p) => p.closedBefore).map((p) => p.customerId))] : [];
  for (let i = 0; prev && i < adjusted.length; i += CUSTOMERS_PER_QUERY) {
    const customers = adjusted.slice(i, i + CUSTOMERS_PER_QUERY);
    for (const e of await exportedValues(db, { tenantId, uptoSequence: prev.sequence, customers }, tags))
      exported.set(keyOf(e.customerId, e.meterKey, e.startMs), e);
  }

  const lines: LineRow[] = [];
  const slice = timeSlices();
  for (const p of periods) {
    await slice();
    for (const meter of meters) {
      const key = keyOf(p.customerId, meter.key, p.startMs);
      const now = current.get(key) ?? { value: '0', events: 0 };
      const before = p.closedBefore ? (exported.get(key) ?? { value: '0', events: 0 }) : { value: '0', events: 0 };
      const value = units(now.value) - units(before.value);
      const events = now.events - before.events;
      if (value === 0n && events === 0) continue;
      lines.push({
        customerId: p.customerId,
        meterKey: meter.key,
        periodStartMs: p.startMs,
        periodEndMs: p.endMs,
        kind: p.closedBefore ? 'adjustment' : 'usage',
        value: decimal(value),
        events,
      });
    }
  }
  return lines;
}
