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
const ELAPSED: Partial<Record<Granularity, number>> = { minute: 60_000, hour: 3_600_000 };

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
  const elapsedMs = ELAPSED[granularity];
  if (elapsedMs !== undefined) {
    // Hours and minutes are elapsed time: after the first local start, each window starts one step later
    // (what luxon's plus({ hours: 1 }) gives, without a DateTime per window: 720 hourly windows took ~5 ms).
    for (let start = DateTime.fromMillis(fromMs, { zone: tz }).startOf(unit).toMillis(); start < toMs; start += elapsedMs) {
      if (windows.length === MAX_WINDOWS) return undefined;
      windows.push({ alignedStartMs: start, startMs: Math.max(start, fromMs), endMs: Math.min(start + elapsedMs, toMs) });
    }
    return windows;
  }
  let start = DateTime.fromMillis(fromMs, { zone: tz }).startOf(unit);
  while (start.toMillis() < toMs) {
    if (windows.length === MAX_WINDOWS) return undefined;
    // days, weeks and months are calendar time in the zone
    const end = start.plus({ [`${unit}s`]: 1 });
    windows.push({ alignedStartMs: start.toMillis(), startMs: Math.max(start.toMillis(), fromMs), endMs: Math.min(end.toMillis(), toMs) });
    start = end;
  }
  return windows;
}
