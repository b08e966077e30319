import { describe, expect, it } from 'vitest';
import { DateTime } from 'luxon';
import { calendarWindows } from './period-total.js';
import { periodOf, type BillingCycle } from '../../jobs/billing/periods.js';

/** `n` consecutive periods of a cycle, oldest first, the last holding `atMs`. */
function periods(cycle: BillingCycle, atMs: number, n: number) {
  const out = [periodOf(atMs, cycle)];
  while (out.length < n) out.unshift(periodOf(out[0]!.startMs - 1, cycle));
  return out;
}

const at = Date.UTC(2026, 2, 29, 12); // in the week of Europe's change to summer time
const local = (iso: string, zone: string) => DateTime.fromISO(iso, { zone }).toMillis();

describe('calendarWindows (one read for the periods a dashboard computes)', () => {
  it('is the calendar windows of consecutive periods, one per period', () => {
    const months = periods({ timezone: 'UTC', interval: 'month', anchorDay: 1 }, at, 7);
    const found = calendarWindows(months, 'UTC')!;
    expect(found.granularity).toBe('month');
    expect(found.windows.map((w) => [w.alignedStartMs, w.endMs])).toEqual(months.map((p) => [p.startMs, p.endMs]));
  });

  it('covers the windows between periods left out (exported ones), each period still one window', () => {
    const zone = 'America/New_York';
    const months = periods({ timezone: zone, interval: 'month', anchorDay: 1 }, at, 7);
    const computed = [months[0]!, months[1]!, months[4]!, months[6]!];
    const found = calendarWindows(computed, zone)!;
    expect(found.granularity).toBe('month');
    expect(found.windows).toHaveLength(7);
    expect(found.windows[0]!.alignedStartMs).toBe(local('2025-09-01T00:00', zone));
    for (const p of computed) expect(found.windows.find((w) => w.alignedStartMs === p.startMs)?.endMs).toBe(p.endMs);
  });

  it('finds weeks and days in the zone, across a DST change', () => {
    const zone = 'Europe/Berlin';
    const weeks = periods({ timezone: zone, interval: 'week', anchorDay: 1 }, at, 4);
    expect(calendarWindows([weeks[0]!, weeks[3]!], zone)?.granularity).toBe('week');
    const days = periods({ timezone: zone, interval: 'day', anchorDay: 1 }, at, 5);
    const found = calendarWindows([days[0]!, days[2]!, days[4]!], zone)!;
    expect(found.granularity).toBe('day');
    // 29 March 2026 has 23 hours in Berlin
    expect(found.windows.map((w) => (w.endMs - w.startMs) / 3_600_000)).toEqual([24, 24, 24, 24, 23]);
  });

  it('is undefined for periods that are not calendar windows (anchored on the 15th, weeks from Wednesday)', () => {
    const months = periods({ timezone: 'UTC', interval: 'month', anchorDay: 15 }, at, 3);
    expect(calendarWindows(months, 'UTC')).toBeUndefined();
    expect(calendarWindows([months[0]!, months[2]!], 'UTC')).toBeUndefined();
    const weeks = periods({ timezone: 'UTC', interval: 'week', anchorDay: 3 }, at, 3);
    expect(calendarWindows([weeks[0]!, weeks[2]!], 'UTC')).toBeUndefined();
  });
});
