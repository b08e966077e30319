import { z } from 'zod';
import { TABLES } from '../names.js';
import { rollupTier, type RollupTier, type TierRetention } from '../datasets/rollups.js';
import { BACKGROUND_READS, defineQuery, insertRows, nextVersion, runQuery, withSettings, type Db } from '../query.js';
import { wideSum } from '../decimals.js';
import { onlyIdentitiesMatching, RAW_LATEST } from './meter-usage.js';
import { ttlAfter } from '../retention.js';
import { inUtcWindows, startsByMetric } from './reconcile-windows.js';

/** The reconciler's name in rollup_reconcile_state (its watermark row). */
export const RECONCILE_JOB = 'rollups.reconcile';
const JOB = RECONCILE_JOB;

const watermark = defineQuery({
  name: 'rollups.reconcile.watermark',
  params: z.object({ name: z.string() }),
  row: z.object({ watermarkMs: z.coerce.number() }),
  sql: (db) => `SELECT watermark_ms AS watermarkMs FROM ${db}.${TABLES.rollupReconcileState} FINAL WHERE name = {name:String}`,
});

export async function readWatermark(db: Db): Promise<number> {
  return (await watermark(db, { name: JOB }, { job: JOB }))[0]?.watermarkMs ?? 0;
}

export async function writeWatermark(db: Db, watermarkMs: number): Promise<void> {
  await insertRows(db, 'rollups.reconcile.save_watermark', TABLES.rollupReconcileState, [{ name: JOB, watermark_ms: watermarkMs, version: nextVersion() }], {
    job: JOB,
  });
}

export interface StaleWindow {
  tenantId: string;
  metricName: string;
  hourMs: number;
  /** Events counted differently by the rollup and the raw data, summed over the window's customers (0 when only sums, extremes or dimensions differ). */
  eventsDifference?: number;
}

/** The rows a run looks at: those stored since the watermark, in windows that have settled (see jobs/reconcile-rollups.ts). */
export interface ReconcileSpan {
  sinceMs: number;
  /** Absent: every touched window is compared. */
  settle?: {
    /** A window with a row stored at or after this (engine time) is still receiving rows... */
    beforeMs: number;
    /** ...and is left to a later run, unless it starts at or after this (event time): a live window is always compared. */
    liveFromMs: number;
  };
}

const hourOf = "toDateTime(toStartOfHour(timestamp), 'UTC')";

/**
 * Hours (per tenant and metric) that received rows since the watermark, with
 * the time their newest row was stored. An insert's raw rows become visible
 * before its rollup rows (the engine commits the table's part, then the views'),
 * so a window still receiving rows may look stale for a moment.
 */
const touchedSql = (d: string) => `SELECT tenant_id, metric_name, ${hourOf} AS hour, toUnixTimestamp64Milli(max(stored_at)) AS last_stored_ms
  FROM ${d}.${TABLES.usageEvents}
  WHERE stored_at >= fromUnixTimestamp64Milli({since_ms:Int64}, 'UTC')
  GROUP BY tenant_id, metric_name, hour`;

/** The span's values, bound in the statements above and below ({since_ms:Int64}, ...). */
const spanValues = (span: ReconcileSpan) => ({
  since_ms: span.sinceMs,
  settled_before_ms: span.settle?.beforeMs ?? Number.MAX_SAFE_INTEGER,
  live_from_ms: span.settle?.liveFromMs ?? 0,
});

/** A touched window this run compares: settled, or live. */
const COMPARED = 'last_stored_ms < {settled_before_ms:Int64} OR toUnixTimestamp(hour) * 1000 >= {live_from_ms:Int64}';

/**
 * One customer's aggregates in a window (count c, sum s, min mn, max mx, latest lt, dimension hash dh)
 * as one UInt64. Each value is cast to one type first, so equal aggregates of the raw events and of a
 * tier (whose columns are typed apart: SimpleAggregateFunction, a merged state) hash alike.
 */
const CUSTOMER_FINGERPRINT =
  'cityHash64(customer_id, toUInt64(c), toDecimal256(s, 9), toDecimal256(mn, 9), toDecimal256(mx, 9), toDecimal256(lt, 9), toUInt64(dh))';

/**
 * Per window of one side: its events and the sum (wrapping, so order-free) of its customers'
 * fingerprints, which differs from the other side's where any customer's aggregates differ, or a
 * customer is on one side only (but for a 64-bit hash collision). Comparing windows this way instead
 * of pairing the two sides' rows per customer leaves out a second grouping of every (window, customer)
 * row of both sides (1.77M rows at 1M events; at 3M the hour check 33-36 s -> 20-21 s, docs/benchmarks.md).
 * `extra` adds columns aggregated per window.
 */
const perWindow = (side: string, extra = '') => `SELECT tenant_id, metric_name, w, side, sum(c) AS events, sum(${CUSTOMER_FINGERPRINT}) AS fingerprint${extra}
  FROM (${side})
  GROUP BY tenant_id, metric_name, w, side`;

/** The windows whose two sides (perWindow) differ. */
const DIFFERING = `countIf(side = 1) != 1 OR countIf(side = 2) != 1
    OR anyIf(events, side = 1) != anyIf(events, side = 2) OR anyIf(fingerprint, side = 1) != anyIf(fingerprint, side = 2)`;

/**
 * Hours (per tenant and metric) touched by rows stored since the watermark,
 * settled or live (ReconcileSpan), whose hourly rollup differs
 * from the deduplicated raw events (FINAL, voids left out), per customer, in
 * count, sum, min, max, latest quantity or the multiset of dimension maps;
 * with the events counted differently in each, summed over its customers.
 */
export async function staleWindows(db: Db, span: ReconcileSpan): Promise<StaleWindow[]> {
  const d = db.database;
  const sql = `WITH touched AS (
  SELECT tenant_id, metric_name, hour FROM (${touchedSql(d)}) WHERE ${COMPARED}
)
SELECT tenant_id AS tenantId, toString(metric_name) AS metricName, toUnixTimestamp(w) * 1000 AS hourMs
FROM (
  ${perWindow(`SELECT tenant_id, metric_name, ${hourOf} AS w, customer_id, 1 AS side, count() AS c, ${wideSum('quantity')} AS s,
      min(quantity) AS mn, max(quantity) AS mx, ${RAW_LATEST} AS lt, sum(cityHash64(dimensions)) AS dh
    FROM ${d}.${TABLES.usageEvents} FINAL
    WHERE (tenant_id, metric_name, ${hourOf}) IN (SELECT tenant_id, metric_name, hour FROM touched) AND is_deleted = 0
    GROUP BY tenant_id, metric_name, w, customer_id`)}
  UNION ALL
  ${perWindow(`SELECT tenant_id, metric_name, window_start AS w, customer_id, 2 AS side, sum(events) AS c, ${wideSum('quantity_sum')} AS s,
      min(quantity_min) AS mn, max(quantity_max) AS mx, argMaxMerge(latest_key) AS lt, sum(cityHash64(dimensions) * events) AS dh
    FROM ${d}.${TABLES.usagePerHour}
    WHERE (tenant_id, metric_name, window_start) IN (SELECT tenant_id, metric_name, hour FROM touched)
    GROUP BY tenant_id, metric_name, w, customer_id`)}
)
GROUP BY tenant_id, metric_name, w
HAVING ${DIFFERING}
ORDER BY tenantId, metricName, hourMs`;
  const row = z.object({ tenantId: z.string(), metricName: z.string(), hourMs: z.coerce.number() });
  const stale = await runQuery(db, 'rollups.reconcile.stale', withSettings(sql, BACKGROUND_READS), spanValues(span), row, { job: JOB });
  const out: StaleWindow[] = [];
  for (const { tenantId, metricName, starts } of startsByMetric(stale, (w) => w.hourMs)) {
    const differences = await eventsDifferences(db, tenantId, metricName, [...starts]);
    for (const hourMs of starts) out.push({ tenantId, metricName, hourMs, eventsDifference: differences.get(hourMs) ?? 0 });
  }
  return out;
}

/**
 * Per hour of one tenant and metric, the events its hour rollup counts differently from the raw
 * events, summed over its customers (the job's log and metrics): read only for the hours found stale.
 */
async function eventsDifferences(db: Db, tenantId: string, metricName: string, hoursMs: number[]): Promise<Map<number, number>> {
  const d = db.database;
  const { conditions, params } = inUtcWindows(tenantId, metricName, hoursMs, 'hour');
  const sql = `SELECT toUnixTimestamp(hour) * 1000 AS hourMs, sum(abs(diff)) AS eventsDifference
FROM (
  SELECT hour, customer_id, toInt64(sumIf(c, side = 1)) - toInt64(sumIf(c, side = 2)) AS diff FROM (
    SELECT ${hourOf} AS hour, customer_id, 1 AS side, count() AS c
    FROM ${d}.${TABLES.usageEvents} FINAL
    ${onlyIdentitiesMatching(d, conditions('timestamp'))}
    WHERE ${conditions('timestamp')} AND is_deleted = 0
    GROUP BY hour, customer_id
    UNION ALL
    SELECT window_start AS hour, customer_id, 2 AS side, sum(events) AS c
    FROM ${d}.${TABLES.usagePerHour}
    WHERE ${conditions('window_start')}
    GROUP BY hour, customer_id
  )
  GROUP BY hour, customer_id
)
GROUP BY hour`;
  const row = z.object({ hourMs: z.coerce.number(), eventsDifference: z.coerce.number() });
  const rows = await runQuery(db, 'rollups.reconcile.stale_events', withSettings(sql, BACKGROUND_READS), params, row, { job: JOB, tenantId });
  return new Map(rows.map((r) => [r.hourMs, r.eventsDifference]));
}

/** Hours (per tenant and metric) that received rows since the watermark: those a run compares, and those still receiving rows, left to a later run. */
export async function touchedWindowCount(db: Db, span: ReconcileSpan): Promise<{ checked: number; deferred: number }> {
  const sql = `SELECT countIf(${COMPARED}) AS checked, countIf(NOT (${COMPARED})) AS deferred
FROM (${touchedSql(db.database)})`;
  const row = z.object({ checked: z.coerce.number(), deferred: z.coerce.number() });
  const [counts] = await runQuery(db, 'rollups.reconcile.touched', withSettings(sql, BACKGROUND_READS), spanValues(span), row, { job: JOB });
  return counts ?? { checked: 0, deferred: 0 };
}

/** A window of one tier (its UTC hour or day) of one tenant and metric. */
export interface TierWindow {
  tenantId: string;
  metricName: string;
  startMs: number;
}

/** `window` (a DateTime) is still kept by a tier that keeps `days` (0: forever): its TTL has not deleted it, its view wrote it. */
const keptBy = (window: string, days: number, clockOffsetMs: number) => (days === 0 ? '1' : `${ttlAfter(window, days, clockOffsetMs)} > now()`);

/**
 * The two checks between tiers, each over windows of the coarser tier:
 * - `minute`: hours whose minute rows differ from their hour row, among the hours this run compared
 *   with raw events (so their hour rows are exact now) that the minute tier still keeps;
 * - `day`: days whose day rows differ from their hour rows, among the days that hold an hour this
 *   run compared and no hour still receiving rows (an hour left for later makes its day wait too,
 *   as it keeps receiving rows; hours of the day untouched since an earlier run were compared then),
 *   and that the hour tier keeps whole.
 */
export interface TierCheck {
  name: 'minute' | 'day';
  fine: RollupTier;
  coarse: RollupTier;
  /** The tier whose windows are rewritten where the two differ. */
  rewrites: RollupTier;
  windows: (touched: string, retention: TierRetention, clockOffsetMs: number) => string;
}

export const TIER_CHECKS: readonly TierCheck[] = [
  {
    name: 'minute',
    fine: rollupTier('minute'),
    coarse: rollupTier('hour'),
    rewrites: rollupTier('minute'),
    windows: (touched, retention, offset) => `SELECT tenant_id, metric_name, hour AS w FROM (${touched})
  WHERE (${COMPARED}) AND ${keptBy('hour', retention.minute, offset)}`,
  },
  {
    name: 'day',
    fine: rollupTier('hour'),
    coarse: rollupTier('day'),
    rewrites: rollupTier('day'),
    windows: (touched, retention, offset) => `SELECT tenant_id, metric_name, toDateTime(toStartOfDay(hour), 'UTC') AS w FROM (${touched})
  GROUP BY tenant_id, metric_name, w
  HAVING countIf(NOT (${COMPARED})) = 0 AND ${keptBy('w', retention.hour, offset)}`,
  },
];

/**
 * Windows of the check's coarse tier where its rows and the fine tier's rows over the same window
 * differ, per customer, in count, sum, min, max, latest quantity or the multiset of dimension maps,
 * or where the rows of the tier to rewrite keep fewer quantities than they count events (day rows
 * written before migration 23, so that a day compared again gets its quantities). Both tiers are
 * written by the same views from the same inserts, so they differ only where a rewrite of one
 * raced an insert (or by a fault); the reconciler rewrites `check.rewrites` there.
 */
export async function driftedWindows(db: Db, span: ReconcileSpan, check: TierCheck, retention: TierRetention, clockOffsetMs = 0): Promise<TierWindow[]> {
  const d = db.database;
  // The quantities the rewritten tier's rows hold, where it keeps them (rows written before migration 23 hold none).
  const quantities = (tier: RollupTier) => (tier.quantities && tier === check.rewrites ? 'sum(quantities_events)' : 'sum(events)');
  // Per customer, `few`: its rows keep fewer quantities than they count events.
  const side = (n: number, tier: RollupTier) =>
    perWindow(
      `SELECT tenant_id, metric_name, ${windowOf(check.coarse)} AS w, customer_id, ${n} AS side,
      sum(events) AS c, ${wideSum('quantity_sum')} AS s, min(quantity_min) AS mn, max(quantity_max) AS mx, argMaxMerge(latest_key) AS lt,
      sum(cityHash64(dimensions) * events) AS dh, ${quantities(tier)} != c AS few
    FROM ${d}.${tier.table}
    WHERE (tenant_id, metric_name, ${windowOf(check.coarse)}) IN (SELECT tenant_id, metric_name, w FROM windows)
      AND window_start >= (SELECT min(w) FROM windows) AND window_start < (SELECT max(w) FROM windows) + toIntervalSecond(${check.coarse.stepMs / 1000})
    GROUP BY tenant_id, metric_name, w, customer_id`,
      ', max(few) AS few',
    );
  const sql = `WITH windows AS (
  ${check.windows(touchedSql(d), retention, clockOffsetMs)}
)
SELECT tenant_id AS tenantId, toString(metric_name) AS metricName, toUnixTimestamp(w) * 1000 AS startMs
FROM (
  ${side(1, check.coarse)}
  UNION ALL
  ${side(2, check.fine)}
)
GROUP BY tenant_id, metric_name, w
HAVING ${DIFFERING} OR max(few) = 1
ORDER BY tenantId, metricName, startMs`;
  const row = z.object({ tenantId: z.string(), metricName: z.string(), startMs: z.coerce.number() });
  return runQuery(db, `rollups.reconcile.drift_${check.name}`, withSettings(sql, BACKGROUND_READS), spanValues(span), row, { job: JOB });
}

/** A rollup row's window in `tier` (its own window_start for the tier itself). */
const windowOf = (tier: RollupTier) => `toDateTime(${tier.bucket('window_start')}, 'UTC')`;
