import { z } from 'zod';
import { TABLES } from '../names.js';
import { count } from '../count.js';
import { runQuery, type Db, type QueryTags } from '../query.js';
import { valueExpression } from './meter-usage.js';
import { orderedUnsigned } from '../datasets/rollups.js';
import type { Aggregation } from './meters.js';
import { DAY_MS } from '../time.js';

const at = (param: string) => `fromUnixTimestamp64Milli({${param}:Int64}, 'UTC')`;

/**
 * Every row of one tenant's events (originals, redeliveries, corrections)
 * stored before the cutoff, from the append-only usage_event_log (merges of
 * usage_events would have dropped some). `where` may only test columns that
 * never change within an identity (customer, metric, event time: a correction
 * cannot move them).
 */
function storedBefore(db: string, where: string): string {
  return `SELECT event_id, customer_id, metric_name, timestamp, quantity, dimensions, is_deleted, version, stored_at
  FROM ${db}.${TABLES.usageEventLog}
  WHERE tenant_id = {tenantId:String} AND stored_at < ${at('cutoffMs')} AND ${where}`;
}

/**
 * A log row's rank among the rows of its identity, as one UInt128 that orders as the tuple
 * (version, -stored ms) does: the version (UInt64) in the high 64 bits, the negated stored time
 * (Int64) in the low 64 with its sign bit flipped, so that unsigned order is signed order. Higher
 * ranks are newer versions and, within one version, earlier copies. Why a number: the engine's
 * argMax by a tuple keeps and compares the tuple in a generic form; five such argMax over a
 * tenant's 3M log rows took 18.6-22.3 s on one thread, by this number 6.4-7.0 s, with the same
 * answer (docs/benchmarks.md, "The close's and the reconciler's argMax by one number").
 */
export const LOG_ROW_RANK = `bitOr(bitShiftLeft(toUInt128(version), 64), toUInt128(${orderedUnsigned('-toUnixTimestamp64Milli(stored_at)')}))`;

/**
 * Each event as it was at the cutoff: its highest version stored before the
 * cutoff; among copies of one version (redeliveries) the earliest stored, so
 * the first payload wins (LOG_ROW_RANK). Voided events are left out. Exact without FINAL: it
 * is an argMax over every row of the identity, and no row a merge could drop
 * is missing (the log is never collapsed).
 */
function eventsAsOf(db: string, where: string): string {
  const rank = LOG_ROW_RANK;
  return `SELECT event_id, c_ AS customer_id, t_ AS timestamp, q_ AS quantity, d_ AS dimensions FROM (
  SELECT event_id, argMax(customer_id, ${rank}) AS c_, argMax(timestamp, ${rank}) AS t_, argMax(quantity, ${rank}) AS q_,
    argMax(dimensions, ${rank}) AS d_, argMax(is_deleted, ${rank}) AS x_
  FROM (${storedBefore(db, where)})
  GROUP BY event_id
) WHERE x_ = 0`;
}

export interface TouchedCustomer {
  customerId: string;
  /** The UTC days (start, epoch ms) holding this customer's events. */
  dayMs: number[];
  /** Per day: a row of this customer and day was stored at or after `sinceMs` (a late event or a correction). */
  changed: boolean[];
}

/**
 * The customers, each with its UTC days, holding events of these metrics
 * before `closedBeforeMs` that a close run must look at: days from
 * `newFromMs` on (periods that may close now) and days with rows stored since
 * `sinceMs` (the previous cutoff: what changed in periods closed before).
 * With `moved`, the days from `moved.fromMs` on of customers whose record
 * moved to another time zone or cycle (customers.ts movedCustomers) count as changed:
 * the periods of their new cycle that already ended were never billed.
 * One row per customer, its days as arrays of day numbers: a tenant has
 * hundreds of thousands of (customer, day) pairs, and one row per pair cost
 * the event loop half a second to parse at 1M events.
 */
export async function touchedDays(
  db: Db,
  p: {
    tenantId: string;
    metrics: string[];
    cutoffMs: number;
    sinceMs: number;
    closedBeforeMs: number;
    newFromMs: number;
    /** Customers moved since the previous export: their days from `fromMs` on count as changed. */
    moved?: { customerIds: string[]; fromMs: number } | undefined;
  },
  tags: QueryTags = {},
): Promise<TouchedCustomer[]> {
  const { moved, ...params } = p;
  const changedDay = moved
    ? `stored_at >= ${at('sinceMs')} OR (timestamp >= ${at('movedFromMs')} AND customer_id IN {movedIds:Array(String)})`
    : `stored_at >= ${at('sinceMs')}`;
  const where = `metric_name IN {metrics:Array(String)} AND timestamp < ${at('closedBeforeMs')}
    AND (timestamp >= ${at('newFromMs')} OR ${changedDay})`;
  const sql = `SELECT customerId, arrayMap(x -> x.1, pairs) AS days, arrayMap(x -> x.2, pairs) AS changed FROM (
  SELECT customerId, arraySort(groupArray((day, changed))) AS pairs FROM (
    SELECT customer_id AS customerId, toInt32(toDate32(timestamp)) AS day, toUInt8(max(${changedDay})) AS changed
    FROM (${storedBefore(db.database, where)})
    GROUP BY customerId, day
  )
  GROUP BY customerId
)
ORDER BY customerId`;
  // One check per array instead of one zod schema per element: 30-100 ms less of the event loop per run at 1M events.
  const dayNumbers = z.custom<number[]>((v) => Array.isArray(v) && v.every((d) => Number.isSafeInteger(d)), 'an array of day numbers');
  const flags = z.custom<number[]>((v) => Array.isArray(v) && v.every((c) => c === 0 || c === 1), 'an array of 0 and 1');
  const row = z.object({ customerId: z.string(), days: dayNumbers, changed: flags });
  const values = moved ? { ...params, movedIds: moved.customerIds, movedFromMs: moved.fromMs } : params;
  const rows = await runQuery(db, 'billing.touched_days', sql, values, row, tags, { inSlices: true });
  return rows.map((r) => ({ customerId: r.customerId, dayMs: r.days.map((d) => d * DAY_MS), changed: r.changed.map((c) => c === 1) }));
}

export interface MeterSpec {
  metricName: string;
  aggregation: Aggregation;
  uniqueDimension?: string | undefined;
  filter: Record<string, string[]>;
}

export interface PeriodRef {
  customerId: string;
  startMs: number;
  endMs: number;
}

export interface PeriodValue {
  customerId: string;
  startMs: number;
  value: string;
  events: number;
}

/**
 * About the bytes a period takes among metersValuesAsOf's bound values: the customer id in `pc` (UTF-8, quoted, with
 * a comma) and its start and end in `ps` and `pe` (digits and a comma each). A close run cuts its statements by this
 * (jobs/billing/lines.ts).
 */
export const periodParamBytes = (p: PeriodRef): number => Buffer.byteLength(p.customerId) + 3 + String(p.startMs).length + String(p.endMs).length + 2;

/** The events a meter reads: its metric and its filter, whatever the order of the filter's keys and values. */
const readsOf = (m: MeterSpec) =>
  JSON.stringify([
    m.metricName,
    Object.entries(m.filter)
      .map(([dimension, values]) => [dimension, [...values].sort()] as const)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
  ]);

/**
 * Meters that one statement can compute (metersValuesAsOf), in their order: those that read the same events (the
 * same metric and filter), each one more expression over them. A UNIQUE_COUNT's dimension is a bound value, so a
 * group holds at most one.
 */
export function meterGroups<M extends MeterSpec>(meters: readonly M[]): M[][] {
  const groups: { reads: string; dimension: string | undefined; meters: M[] }[] = [];
  for (const m of meters) {
    const reads = readsOf(m);
    const dimension = m.aggregation === 'UNIQUE_COUNT' ? m.uniqueDimension : undefined;
    const group = groups.find((g) => g.reads === reads && (dimension === undefined || g.dimension === undefined || g.dimension === dimension));
    if (!group) groups.push({ reads, dimension, meters: [m] });
    else {
      group.meters.push(m);
      group.dimension ??= dimension;
    }
  }
  return groups.map((g) => g.meters);
}

export interface PeriodValues {
  customerId: string;
  startMs: number;
  /** One value per meter, in the meters' order. */
  values: string[];
  /** The events of the period the meters read (the same for all of them). */
  events: number;
}

/**
 * Meters' exact values per (customer, period) over the events as of the
 * cutoff, in one statement: meters of one group (meterGroups), which read the
 * same events. Periods without events are absent. Periods are computed in JS
 * (luxon, DST-safe) and joined in as arrays; a customer's periods never overlap,
 * so each event lands in at most one. The statement reads every log row of the
 * tenant and metric in the periods' range (the log is ordered by event id: a set
 * of customers prunes nothing), whatever the number of periods.
 */
export async function metersValuesAsOf(
  db: Db,
  p: { tenantId: string; cutoffMs: number; meters: readonly MeterSpec[]; periods: PeriodRef[] },
  tags: QueryTags = {},
): Promise<PeriodValues[]> {
  const [first] = p.meters;
  if (p.periods.length === 0 || !first) return [];
  if (meterGroups(p.meters).length !== 1) throw new Error('metersValuesAsOf: the meters must read the same events (meterGroups)');
  const params: Record<string, unknown> = {
    tenantId: p.tenantId,
    cutoffMs: p.cutoffMs,
    metricName: first.metricName,
    // A reduce, not Math.min(...): a spread of a long array overflows the stack.
    fromMs: p.periods.reduce((m, x) => Math.min(m, x.startMs), Infinity),
    toMs: p.periods.reduce((m, x) => Math.max(m, x.endMs), -Infinity),
    pc: p.periods.map((x) => x.customerId),
    ps: p.periods.map((x) => x.startMs),
    pe: p.periods.map((x) => x.endMs),
  };
  const unique = p.meters.find((m) => m.aggregation === 'UNIQUE_COUNT');
  if (unique) params.uniqueDimension = unique.uniqueDimension;
  const filters = Object.entries(first.filter).map(([dimension, values], i) => {
    params[`fk${i}`] = dimension;
    params[`fv${i}`] = values;
    return ` AND dimensions[{fk${i}:String}] IN {fv${i}:Array(String)}`;
  });
  const values = p.meters.map((m) => `toString(${valueExpression(m.aggregation, { kind: 'raw' })})`);
  const where = `metric_name = {metricName:String} AND customer_id IN {pc:Array(String)}
    AND timestamp >= ${at('fromMs')} AND timestamp < ${at('toMs')}`;
  const sql = `SELECT pc AS customerId, ps AS startMs, [${values.join(', ')}] AS values, count() AS events
FROM (${eventsAsOf(db.database, where)}) AS e
INNER JOIN (
  SELECT tupleElement(x, 1) AS pc, tupleElement(x, 2) AS ps, tupleElement(x, 3) AS pe
  FROM (SELECT arrayJoin(arrayZip({pc:Array(String)}, {ps:Array(Int64)}, {pe:Array(Int64)})) AS x)
) AS periods ON e.customer_id = periods.pc
WHERE toUnixTimestamp64Milli(e.timestamp) >= ps AND toUnixTimestamp64Milli(e.timestamp) < pe${filters.join('')}
GROUP BY pc, ps`;
  const row = z.object({ customerId: z.string(), startMs: z.coerce.number(), values: z.array(z.string()).length(p.meters.length), events: count });
  return runQuery(db, 'billing.meter_values', sql, params, row, tags, { inSlices: true });
}

/** One meter's exact value per (customer, period) over the events as of the cutoff (metersValuesAsOf). */
export async function meterValuesAsOf(
  db: Db,
  p: { tenantId: string; cutoffMs: number; meter: MeterSpec; periods: PeriodRef[] },
  tags: QueryTags = {},
): Promise<PeriodValue[]> {
  const rows = await metersValuesAsOf(db, { tenantId: p.tenantId, cutoffMs: p.cutoffMs, meters: [p.meter], periods: p.periods }, tags);
  return rows.map(({ values, ...v }) => ({ ...v, value: values[0]! }));
}
