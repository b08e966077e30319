import { ROLLUP_TIERS, tierKeptFrom, type TierRetention } from '../../sql/datasets/rollups.js';
import { tierAnswers, type UsageSource } from '../../sql/queries/meter-usage.js';
import type { Aggregation } from '../../sql/queries/meters.js';
import type { UsageWindow } from './windows.js';

/**
 * The coarsest rollup tier that serves a query: every window bound falls on the
 * tier's UTC window boundaries (so each tier row lies inside one query window,
 * whatever the time zone), and the tier still keeps data as old as `from`.
 * Raw events only when no tier does; percentiles only from a tier that keeps every quantity (the day tier).
 */
export function chooseSource(windows: readonly UsageWindow[], aggregation: Aggregation, retention: TierRetention, nowMs: number): UsageSource {
  if (windows.length === 0) return { kind: 'raw' };
  const fromMs = windows[0]!.startMs;
  const keptFrom = tierKeptFrom(retention, nowMs);
  for (const tier of [...ROLLUP_TIERS].reverse()) {
    if (!tierAnswers(tier, aggregation)) continue;
    const aligned = windows.every((w) => w.startMs % tier.stepMs === 0 && w.endMs % tier.stepMs === 0);
    const retained = fromMs >= (keptFrom[tier.name] ?? -Infinity);
    if (aligned && retained) return { kind: 'rollup', tier };
  }
  return { kind: 'raw' };
}
