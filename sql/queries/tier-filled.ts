import { z } from 'zod';
import { TABLES } from '../names.js';
import { ROLLUP_TIERS, type RollupTier, type TierKeptFrom } from '../datasets/rollups.js';
import { defineQuery, insertRows, nextVersion, type Db } from '../query.js';
import type { GrownRetention } from '../retention.js';
import { DAY_MS } from '../time.js';
import { writeWatermark } from './reconcile.js';

/**
 * A rollup tier whose retention grew holds only the windows its old retention kept: its view wrote no
 * older window and its TTL deleted the ones that aged out. Until a full reconciliation has written the
 * windows the new retention adds, the tier is complete only from an event time later than its
 * retention says: that instant is kept here, one row per tier in rollup_reconcile_state
 * (`rollups.filled_from.<tier>`, 0 once a full pass has filled it). Reads take a tier only from there
 * on (api/usage/tier-coverage.ts); the reconciler clears a row when a full pass that started after it
 * ends (jobs/reconcile-rollups.ts).
 */
const PREFIX = 'rollups.filled_from.';

export interface FilledFromMark {
  tier: RollupTier['name'];
  /** Event time (ms, product clock) from which the tier holds every window. */
  fromMs: number;
  /** The row's version (µs, when it was written): a pass clears only the marks it saw. */
  version: number;
}

const marks = defineQuery({
  name: 'rollups.filled_from',
  params: z.object({ prefix: z.string() }),
  row: z.object({ name: z.string(), fromMs: z.coerce.number(), version: z.coerce.number() }),
  sql: (db) =>
    `SELECT name, watermark_ms AS fromMs, version FROM ${db}.${TABLES.rollupReconcileState} FINAL WHERE startsWith(name, {prefix:String}) AND watermark_ms != 0`,
});

/** The tiers not yet filled after their retention grew, each with the event time it is complete from. */
export async function readFilledFrom(db: Db): Promise<FilledFromMark[]> {
  const rows = await marks(db, { prefix: PREFIX }, { job: 'rollups.filled_from' });
  const out: FilledFromMark[] = [];
  for (const r of rows) {
    const tier = ROLLUP_TIERS.find((t) => `${PREFIX}${t.name}` === r.name);
    if (tier) out.push({ tier: tier.name, fromMs: r.fromMs, version: r.version });
  }
  return out;
}

/** The marks as the read planner takes them: per tier, the event time it is complete from. */
export const filledFromOf = (marks: readonly FilledFromMark[]): TierKeptFrom => Object.fromEntries(marks.map((m) => [m.tier, m.fromMs]));

/** `fromMs` 0 clears the tier's mark. */
export async function writeFilledFrom(db: Db, tier: RollupTier['name'], fromMs: number): Promise<void> {
  await insertRows(db, 'rollups.filled_from.save', TABLES.rollupReconcileState, [{ name: `${PREFIX}${tier}`, watermark_ms: fromMs, version: nextVersion() }], {
    job: 'rollups.filled_from',
  });
}

/**
 * Marks each grown tier complete only from where its old retention reached (now, for a TTL meterhouse
 * did not write; the later instant when a mark is already there) and sets the reconciler's watermark
 * back to 0, so that its next run is a full pass: it compares every window each tier keeps and writes
 * the ones missing. Called before the longer retention is applied, so that a crash in between leaves
 * the marks and the full pass to the next start.
 */
export async function markRetentionGrown(db: Db, grown: readonly GrownRetention[], productNowMs: number): Promise<void> {
  const existing = filledFromOf(await readFilledFrom(db));
  for (const g of grown) {
    const from = g.fromDays === undefined ? productNowMs : productNowMs - g.fromDays * DAY_MS;
    await writeFilledFrom(db, g.tier, Math.max(existing[g.tier] ?? -Infinity, from));
  }
  await writeWatermark(db, 0);
}

/**
 * After a full pass that filled the tiers: clears the marks it saw when it started (`seen`), unless one
 * was written again since (a retention grown once more while the pass ran: the next full pass fills that).
 * The tiers cleared.
 */
export async function clearFilledFrom(db: Db, seen: readonly FilledFromMark[]): Promise<RollupTier['name'][]> {
  const now = await readFilledFrom(db);
  const cleared: RollupTier['name'][] = [];
  for (const m of seen) {
    if (!now.some((n) => n.tier === m.tier && n.version === m.version)) continue;
    await writeFilledFrom(db, m.tier, 0);
    cleared.push(m.tier);
  }
  return cleared;
}
