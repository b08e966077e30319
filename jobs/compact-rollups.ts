import type { Db } from '../sql/query.js';
import { ROLLUP_TIERS, CUSTOMER_MONTH_PROJECTION } from '../sql/datasets/rollups.js';
import { mergePartition, partsOf, splitPartitions } from '../sql/queries/compaction.js';

/**
 * The most of the time compaction may run (the scheduler's maxShare): a merge of a month of a tier
 * is seconds of one core (4.5M hour-tier rows: 9 s on the project machine), taken from ingest.
 */
export const COMPACT_MAX_SHARE = 0.25;

export interface CompactResult {
  /** Partitions merged this run: the tier's table, the month (`YYYYMM`), parts before and after. */
  merged: { table: string; partition: string; partsBefore: number; partsAfter: number }[];
}

/** For the job log: what a run merged, or nothing. */
export const compactWork = (r: CompactResult): Record<string, unknown> | undefined => (r.merged.length > 0 ? { merged: r.merged } : undefined);

/** The `YYYYMM` partition id of the UTC month holding `ms`, as `toYYYYMM(window_start)` names it. */
export function monthPartition(ms: number): string {
  const d = new Date(ms);
  return `${d.getUTCFullYear()}${String(d.getUTCMonth() + 1).padStart(2, '0')}`;
}

/**
 * Keeps each settled past month of the rollup tiers in one part. A read of one customer's month
 * looks into every part of the month (about 0.5 ms each, beside the read's own work), and the whole-
 * tenant month summary reads one projection row per customer, metric and part; the engine's own
 * merges leave a month in 5-20 parts after a backfill, since it does not merge a big part with small
 * ones. Each run merges at most `maxPartitions` month partitions of months before the product clock's
 * (`nowMs`) that are held in several parts, none written for `settleSeconds` (engine time), the
 * partition with the most parts first. The current month is never merged here: it still receives
 * parts, and merging it whole again after each would rewrite a month of rows per insert.
 * Exact: merging changes no answer (sql/queries/compaction.ts mergePartition).
 */
export async function compactRollups(db: Db, o: { nowMs: number; settleSeconds: number; maxPartitions?: number }): Promise<CompactResult> {
  const before = monthPartition(o.nowMs);
  const tags = { job: 'rollups.compact' };
  const candidates = [];
  for (const tier of ROLLUP_TIERS) {
    const projection = tier.name === 'day' ? CUSTOMER_MONTH_PROJECTION : '';
    for (const p of await splitPartitions(db, [tier.table], before, o.settleSeconds, projection, tags)) candidates.push({ p, projection });
  }
  candidates.sort((a, b) => b.p.parts - a.p.parts);
  const merged: CompactResult['merged'] = [];
  for (const { p, projection } of candidates.slice(0, o.maxPartitions ?? 1)) {
    await mergePartition(db, p, projection, tags);
    merged.push({ table: p.table, partition: p.partition, partsBefore: p.parts, partsAfter: await partsOf(db, p.table, p.partition, tags) });
  }
  return { merged };
}
