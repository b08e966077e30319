import { DateTime } from 'luxon';
import type { Granularity } from '../../sql/queries/meter-usage.js';

/** A half-open window [startMs, endMs); `alignedStartMs` is the local start it is keyed by before clipping to [from, to). */
export interface UsageWindow {
  alignedStartMs: number;
  startMs: number;
  endMs: number;
}

export const MAX_WINDOWS = 10_000;

const UNIT = { minute: 'minute', hour: 'hour', day: 'day', week: 'week', month: 'month' } as const;

/**
 * The windows covering [fromMs, toMs) in a time zone, aligned to local time:
 * a local day across a DST change is 23 or 25 hours, months are local months,
 * weeks start on Monday. The first and last windows are clipped to [from, to).
 * Undefined when there would be more than MAX_WINDOWS.
 */
export function windowsFor(fromMs: number, toMs: number, granularity: Granularity, tz: string): UsageWindow[] | undefined {
  if (granularity === 'total') return [{ alignedStartMs: fromMs, startMs: fromMs, endMs: toMs }];
  const unit = UNIT[granularity];
  const windows: UsageWindow[] = [];
  let start = DateTime.fromMillis(fromMs, { zone: tz }).startOf(unit);
  while (start.toMillis() < toMs) {
    if (windows.length === MAX_WINDOWS) return undefined;
    // hours and minutes are elapsed time; days, weeks and months are calendar time in the zone
    const end = start.plus({ [`${unit}s`]: 1 });
    windows.push({ alignedStartMs: start.toMillis(), startMs: Math.max(start.toMillis(), fromMs), endMs: Math.min(end.toMillis(), toMs) });
    start = end;
  }
  return windows;
}
