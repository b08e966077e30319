import type { Db } from '../sql/query.js';
import { readWatermark, rewriteWindows, staleWindows, touchedWindowCount, writeWatermark } from '../sql/queries/reconcile.js';

/** Rows stored up to this long before a run started are looked at again by the next run (inserts in flight at the run). */
export const RECONCILE_OVERLAP_MS = 120_000;

export interface ReconcileResult {
  sinceMs: number;
  rewritten: number;
  /** Windows (hour, tenant, metric) that received rows since the watermark, exact or not. */
  checked: number;
  /** Events the rewritten windows' rollups counted differently from the raw data. */
  eventsDifference: number;
}

/** For the job log: the windows a run rewrote, or nothing when every rollup was exact. */
export function reconcileWork(r: ReconcileResult): Record<string, unknown> | undefined {
  return r.rewritten > 0 ? { windowsRewritten: r.rewritten, windowsChecked: r.checked, eventsDifference: r.eventsDifference, sinceMs: r.sinceMs } : undefined;
}

/**
 * Makes rollups equal the deduplicated raw events: looks at every hour that
 * received rows since the last run, compares its rollup with the raw data, and
 * rewrites the hours (and their days) that differ. The watermark advances only
 * after a run succeeds, so a failed run is repeated in full.
 */
export async function reconcileRollups(db: Db, options: { cluster?: string | undefined; nowMs?: number } = {}): Promise<ReconcileResult> {
  const startedMs = options.nowMs ?? Date.now();
  const sinceMs = await readWatermark(db);
  const checked = await touchedWindowCount(db, sinceMs);
  const stale = await staleWindows(db, sinceMs);
  if (stale.length > 0) await rewriteWindows(db, stale, options.cluster);
  await writeWatermark(db, Math.max(sinceMs, startedMs - RECONCILE_OVERLAP_MS));
  const eventsDifference = stale.reduce((n, w) => n + (w.eventsDifference ?? 0), 0);
  return { sinceMs, rewritten: stale.length, checked, eventsDifference };
}
