import { DAY_MS, HOUR_MS } from '../time.js';

/** The reconciler's windows as bound conditions, and grouped by tenant and metric (sql/queries/reconcile.ts, reconcile-rewrite.ts). */

const UTC_WINDOWS = { hour: { startOf: 'toStartOfHour', ms: HOUR_MS }, day: { startOf: 'toStartOfDay', ms: DAY_MS } } as const;

/**
 * Conditions on a time column (as a function of its name) selecting one tenant's and metric's rows in
 * the given UTC hours or days, and their bound values.
 */
export function inUtcWindows(tenantId: string, metricName: string, startsMs: number[], window: keyof typeof UTC_WINDOWS) {
  const { startOf, ms: spanMs } = UTC_WINDOWS[window];
  const conditions = (column: string) => `tenant_id = {tenantId:String} AND metric_name = {metricName:String}
  AND ${column} >= fromUnixTimestamp64Milli({fromMs:Int64}, 'UTC') AND ${column} < fromUnixTimestamp64Milli({toMs:Int64}, 'UTC')
  AND toUnixTimestamp(${startOf}(${column})) IN {starts:Array(UInt32)}`;
  const params = { tenantId, metricName, starts: startsMs.map((ms) => ms / 1000), fromMs: Math.min(...startsMs), toMs: Math.max(...startsMs) + spanMs };
  return { conditions, params };
}

/** Windows per tenant and metric: the distinct starts `startOf` gives each. */
export function startsByMetric<W extends { tenantId: string; metricName: string }>(windows: readonly W[], startOf: (w: W) => number) {
  const byMetric = new Map<string, { tenantId: string; metricName: string; starts: Set<number> }>();
  for (const w of windows) {
    const key = JSON.stringify([w.tenantId, w.metricName]);
    let entry = byMetric.get(key);
    if (!entry) byMetric.set(key, (entry = { tenantId: w.tenantId, metricName: w.metricName, starts: new Set() }));
    entry.starts.add(startOf(w));
  }
  return [...byMetric.values()];
}
