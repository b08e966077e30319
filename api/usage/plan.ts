import { ROLLUP_TIERS, type TierKeptFrom } from '../../sql/datasets/rollups.js';
import { tierAnswers, type UsageSource } from '../../sql/queries/meter-usage.js';
import type { Aggregation } from '../../sql/queries/meters.js';
import type { UsageWindow } from './windows.js';

/**
 * The coarsest rollup tier that serves a query: every window bound falls on the
 * tier's UTC window boundaries (so each tier row lies inside one query window,
 * whatever the time zone), and the tier holds every window from `from` on (`readableFrom`: its retention,
 * or later while a grown retention is being filled; api/usage/tier-coverage.ts).
 * Raw events only when no tier does; percentiles only from a tier that keeps every quantity (the day tier).
 */
export function chooseSource(windows: readonly UsageWindow[], aggregation: Aggregation, readableFrom: TierKeptFrom): UsageSource {
  if (windows.length === 0) return { kind: 'raw' };
  const fromMs = windows[0]!.startMs;
  for (const tier of [...ROLLUP_TIERS].reverse()) {
    if (!tierAnswers(tier, aggregation)) continue;
    const aligned = windows.every((w) => w.startMs % tier.stepMs === 0 && w.endMs % tier.stepMs === 0);
    const retained = fromMs >= (readableFrom[tier.name] ?? -Infinity);
    if (aligned && retained) return { kind: 'rollup', tier };
  }
  return { kind: 'raw' };
}
