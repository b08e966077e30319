import { TABLES } from '../names.js';
import { onCluster, storageTable, type RenderTarget } from '../engines.js';
import { ROLLUP_TIERS, rollupSelect, type RollupTier, type TierKeptFrom } from '../datasets/rollups.js';
import { BACKGROUND_READS, execute, withSettings, type Db } from '../query.js';
import { onlyIdentitiesMatching } from './meter-usage.js';
import { DAY_MS, HOUR_MS } from '../time.js';
import { RECONCILE_JOB as JOB, type StaleWindow, type TierWindow } from './reconcile.js';
import { inUtcWindows, startsByMetric } from './reconcile-windows.js';

/** The reconciler's rewrites: a tier's windows written again from the deduplicated raw events (sql/queries/reconcile.ts finds them). */

/**
 * Rewrite a tier's rows of one tenant and metric in the given UTC hours (days
 * for the day tier) from the deduplicated raw events, with the MV's own
 * SELECT. A reader between the DELETE and the INSERT may see those windows low
 * for that moment; an insert that lands in between is caught by the next run
 * (its rows are newer than the watermark), so the rollup converges to the raw data.
 */
async function rewrite(db: Db, t: RenderTarget, tier: RollupTier, tenantId: string, metricName: string, startsMs: number[]): Promise<void> {
  const { conditions: inWindows, params } = inUtcWindows(tenantId, metricName, startsMs, tier.name === 'day' ? 'day' : 'hour');
  const store = `${db.database}.${storageTable(t, tier.table)}`;
  const tags = { job: JOB, tenantId };
  await execute(db, `rollups.reconcile.delete_${tier.name}`, `DELETE FROM ${store}${onCluster(t)} WHERE ${inWindows('window_start')}`, params, tags);
  // FINAL merges only the identities with a row in these windows: usage_events is ordered by identity, so a
  // window's rows lie in every granule of its month, and FINAL over them all merged the whole partition.
  const source = `${db.database}.${TABLES.usageEvents} FINAL\n${onlyIdentitiesMatching(db.database, inWindows('timestamp'))}`;
  const insert = `INSERT INTO ${db.database}.${tier.table}\n${rollupSelect(tier, source, `${inWindows('timestamp')} AND is_deleted = 0`)}`;
  await execute(db, `rollups.reconcile.insert_${tier.name}`, withSettings(insert, BACKGROUND_READS), params, tags);
}

/** Rewrite one tier's rows in the given windows (its hours; days for the day tier). */
export async function rewriteTierWindows(db: Db, tier: RollupTier, windows: readonly TierWindow[], cluster?: string): Promise<void> {
  const t: RenderTarget = { database: db.database, cluster };
  for (const { tenantId, metricName, starts } of startsByMetric(windows, (w) => w.startMs)) await rewrite(db, t, tier, tenantId, metricName, [...starts]);
}

/**
 * Rewrite the minute and hour rows of each stale hour, and the day rows of each day that holds one.
 * A tier's rows are rewritten only where it still keeps some of them (`keptFrom`): the minute rows of
 * a backfill's stale hour older than the minute tier's retention are neither deleted nor computed
 * again (until 2026-12-06 they were, and the tier's TTL dropped them; docs/benchmarks.md).
 */
export async function rewriteWindows(db: Db, windows: readonly StaleWindow[], cluster?: string, keptFrom: TierKeptFrom = {}): Promise<void> {
  const t: RenderTarget = { database: db.database, cluster };
  for (const { tenantId, metricName, starts: hours } of startsByMetric(windows, (w) => w.hourMs)) {
    const days = new Set([...hours].map((h) => h - (h % DAY_MS)));
    for (const tier of ROLLUP_TIERS) {
      const [starts, spanMs] = tier.name === 'day' ? [days, DAY_MS] : [hours, HOUR_MS];
      const from = keptFrom[tier.name];
      const kept = from === undefined ? [...starts] : [...starts].filter((start) => start + spanMs > from);
      if (kept.length > 0) await rewrite(db, t, tier, tenantId, metricName, kept);
    }
  }
}
