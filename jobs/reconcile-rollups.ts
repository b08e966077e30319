import type { Db } from '../sql/query.js';
import { TIER_CHECKS, driftedWindows, readWatermark, staleWindows, touchedWindowCount, writeWatermark, type TierCheck } from '../sql/queries/reconcile.js';
import { rewriteTierWindows, rewriteWindows } from '../sql/queries/reconcile-rewrite.js';
import { tierKeptFrom, type RollupTier, type TierRetention } from '../sql/datasets/rollups.js';
import { clearFilledFrom, readFilledFrom, type FilledFromMark } from '../sql/queries/tier-filled.js';

/** Rows stored up to this long before a run started are looked at again by the next run (inserts in flight at the run). */
export const RECONCILE_OVERLAP_MS = 120_000;

/**
 * A window is compared only once no row has been stored into it for this long. An insert's raw rows
 * become visible before its rollup rows (the engine commits the table's part, then the views'), so
 * a window compared while rows land looks stale: during a backfill, where every batch touches every
 * hour, one run found 6,978 of 7,200 hours "stale" by the batch in flight and rewrote them all.
 * Shorter than RECONCILE_OVERLAP_MS: a window left for later has rows newer than the next watermark.
 */
export const RECONCILE_SETTLE_MS = 60_000;

/**
 * Windows starting within this long of now (event time) are compared on every run, settled or not:
 * live usage, which customers watch and where a Kafka redelivery lands, is exact within one run even
 * under steady traffic (which never lets the current hour settle). A false alarm there rewrites a
 * few hours, not a backfill's thousands.
 */
export const RECONCILE_LIVE_MS = 2 * 3_600_000;

export interface ReconcileResult {
  sinceMs: number;
  rewritten: number;
  /** Windows (hour, tenant, metric) that received rows since the watermark and are settled: compared, exact or not. */
  checked: number;
  /** Windows that received rows since the watermark but are still receiving them: left to a later run. */
  deferred: number;
  /** Events the rewritten windows' rollups counted differently from the raw data. */
  eventsDifference: number;
  /** Hours whose minute rows differed from their (exact) hour row, rewritten. */
  minuteHoursRewritten: number;
  /** Days whose day rows differed from their (exact) hour rows, or kept no quantities (written before migration 23), rewritten. */
  daysRewritten: number;
  /** Tiers whose grown retention this full pass filled (sql/queries/tier-filled.ts): reads take them over their whole retention again. */
  tiersFilled: RollupTier['name'][];
}

/** For the job log: the windows a run rewrote, or nothing when every rollup was exact. */
export function reconcileWork(r: ReconcileResult): Record<string, unknown> | undefined {
  return r.rewritten + r.minuteHoursRewritten + r.daysRewritten > 0
    ? {
        windowsRewritten: r.rewritten,
        windowsChecked: r.checked,
        windowsDeferred: r.deferred,
        eventsDifference: r.eventsDifference,
        minuteHoursRewritten: r.minuteHoursRewritten,
        daysRewritten: r.daysRewritten,
        tiersFilled: r.tiersFilled,
        sinceMs: r.sinceMs,
      }
    : r.tiersFilled.length > 0
      ? { tiersFilled: r.tiersFilled, sinceMs: r.sinceMs }
      : undefined;
}

/** Every tier kept forever: what a database without applied retention (sql/retention.ts) holds. */
const KEPT_FOREVER: TierRetention = { minute: 0, hour: 0, day: 0 };

/**
 * Makes rollups equal the deduplicated raw events: looks at every hour that
 * received rows since the last run and has settled (no row stored for
 * `settleMs`) or is live (RECONCILE_LIVE_MS), compares its hour rollup with the raw data, and rewrites the hours
 * (and their minutes and days) that differ, in each tier only the windows its retention still keeps.
 * Then, with the hour tier exact, compares the minute tier with it in those hours and the day tier
 * with it in their days (TIER_CHECKS), and rewrites what differs: a rewrite is a DELETE then an
 * INSERT ... SELECT per tier, so an insert landing between the two in one tier is counted twice
 * there while the tiers rewritten before it are exact.
 * Such an insert's rows are newer than the new watermark, so the next run compares their windows in
 * every tier again. The watermark advances only after a run succeeds, so a failed run is repeated
 * in full; an hour still receiving rows has rows newer than the new watermark, so a later run checks it.
 * A full pass (watermark 0) also fills a tier whose retention grew, and then clears its mark (sql/queries/tier-filled.ts).
 */
export async function reconcileRollups(
  db: Db,
  options: {
    cluster?: string | undefined;
    /** The engine's now (stored_at's clock). */
    nowMs?: number;
    settleMs?: number;
    /** The product clock's offset from the engine's (domain/clock.ts): which windows are live is a matter of event time. */
    clockOffsetMs?: number;
    /** Each tier's retention as applied (sql/retention.ts): a tier is compared only in windows it still keeps. */
    retention?: TierRetention;
  } = {},
): Promise<ReconcileResult> {
  const startedMs = options.nowMs ?? Date.now();
  const sinceMs = await readWatermark(db);
  // A full pass writes what a tier whose retention grew is missing: the marks it sees now are cleared if it ends.
  const filling = sinceMs === 0 ? await readFilledFrom(db) : [];
  const settle = {
    beforeMs: startedMs - Math.min(options.settleMs ?? RECONCILE_SETTLE_MS, RECONCILE_OVERLAP_MS),
    liveFromMs: startedMs + (options.clockOffsetMs ?? 0) - RECONCILE_LIVE_MS,
  };
  const span = { sinceMs, settle };
  const { checked, deferred } = await touchedWindowCount(db, span);
  const stale = await staleWindows(db, span);
  const retention = options.retention ?? KEPT_FOREVER;
  if (stale.length > 0) await rewriteWindows(db, stale, options.cluster, tierKeptFrom(retention, startedMs + (options.clockOffsetMs ?? 0)));
  const drifted: Record<TierCheck['name'], number> = { minute: 0, day: 0 };
  for (const check of TIER_CHECKS) {
    const windows = await driftedWindows(db, span, check, retention, options.clockOffsetMs);
    if (windows.length > 0) await rewriteTierWindows(db, check.rewrites, windows, options.cluster);
    drifted[check.name] = windows.length;
  }
  // Windows still receiving rows (a backfill) were left for later: a tier being filled is not complete
  // until they are compared, so while marks are pending the watermark stays at 0 and the next run is full again.
  const filled = filling.length > 0 && deferred > 0 ? [] : await advance(db, sinceMs, startedMs, filling);
  const eventsDifference = stale.reduce((n, w) => n + (w.eventsDifference ?? 0), 0);
  return {
    sinceMs,
    rewritten: stale.length,
    checked,
    deferred,
    eventsDifference,
    minuteHoursRewritten: drifted.minute,
    daysRewritten: drifted.day,
    tiersFilled: filled,
  };
}

/** The watermark moved past this run; then the marks of tiers a full pass filled are cleared. */
async function advance(db: Db, sinceMs: number, startedMs: number, filling: readonly FilledFromMark[]) {
  await writeWatermark(db, Math.max(sinceMs, startedMs - RECONCILE_OVERLAP_MS));
  return filling.length > 0 ? clearFilledFrom(db, filling) : [];
}
