import { TABLES } from '../names.js';
import { onCluster, qualified, storageTable, type RenderTarget } from '../engines.js';
import { ROLLUP_TIERS } from './rollups.js';

/**
 * The tables every event is written to, whose merges are most of the engine's work at ingest: the raw
 * table, the billing log, the identity index and the rollup tiers.
 */
export const EVENT_TABLES: readonly string[] = [TABLES.usageEvents, TABLES.usageEventLog, TABLES.usageEventIds, ...ROLLUP_TIERS.map((tier) => tier.table)];

/**
 * How much larger than its largest part a merge's result must be before the engine's merge selector
 * picks it (`merge_selector_base`; the engine's default is 5).
 *
 * Why: a row is written again by every merge it takes part in. With a base of 5, a row of a 25,000-event
 * insert is merged into parts 5, 25, 125... times larger: about log5(n) rewrites to reach a part of n
 * inserts. A base of 10 reaches the same size in about log10(n), 30% fewer rewrites, and leaves up to
 * twice as many parts between merges (docs/benchmarks.md, "Wider merges").
 *
 * What it does not change: which rows a merge keeps. Reads merge parts with FINAL or aggregate
 * them, so every number is the same whatever the parts; only how many parts a read visits.
 */
export const MERGE_SELECTOR_BASE = 10;

/** Migration 28: the selector's base on every table an event is written to (the sharded storage on a cluster). */
export function mergeSelectorDdl(t: RenderTarget): string[] {
  return EVENT_TABLES.map(
    (table) => `ALTER TABLE ${qualified(t, storageTable(t, table))}${onCluster(t)} MODIFY SETTING merge_selector_base = ${MERGE_SELECTOR_BASE}`,
  );
}
