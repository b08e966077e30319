import { periodOf, type BillingCycle, type Period } from './periods.js';

/** A customer's cycle: its own record's, or the tenant default when it has none (as the close job bills it). */
export function cycleOf(record: { timezone: string; interval: BillingCycle['interval']; anchorDay: number } | undefined, fallback: BillingCycle): BillingCycle {
  return record ? { timezone: record.timezone, interval: record.interval, anchorDay: record.anchorDay } : fallback;
}

/** The period holding `nowMs` and up to `previous` periods before it, newest first. */
export function recentPeriods(nowMs: number, cycle: BillingCycle, previous: number): { current: Period; previous: Period[] } {
  const current = periodOf(nowMs, cycle);
  const before: Period[] = [];
  let start = current.startMs;
  for (let i = 0; i < previous; i++) {
    const p = periodOf(start - 1, cycle);
    before.push(p);
    start = p.startMs;
  }
  return { current, previous: before };
}
