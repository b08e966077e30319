import { describe, expect, it } from 'vitest';
import { LONGEST_PERIOD_MS, overlappingPeriodsMemo, periodOf, periodsOverlapping, type BillingCycle } from './periods.js';

const iso = (ms: number) => new Date(ms).toISOString();
const cycle = (timezone: string, interval: BillingCycle['interval'], anchorDay = 1): BillingCycle => ({ timezone, interval, anchorDay });

describe('billing periods', () => {
  it('are all shorter than LONGEST_PERIOD_MS, which the close job and the alert sweep look back by', () => {
    let longest = 0;
    for (const zone of ['UTC', 'America/New_York', 'Europe/London', 'Australia/Lord_Howe', 'America/St_Johns', 'Pacific/Apia']) {
      for (const anchorDay of [1, 15, 28]) {
        const periods = periodsOverlapping(Date.UTC(2020, 0, 1), Date.UTC(2031, 0, 1), cycle(zone, 'month', anchorDay));
        for (const p of periods) longest = Math.max(longest, p.endMs - p.startMs);
      }
    }
    // a 31-day month that gains a DST hour is the longest: 31 days and 1 hour
    expect(longest).toBe(31 * 86_400_000 + 3_600_000);
    expect(longest).toBeLessThan(LONGEST_PERIOD_MS);
  });

  it('starts a New York month at local midnight: 05:00 UTC in winter, 04:00 UTC in summer', () => {
    const p = periodOf(Date.UTC(2026, 2, 15), cycle('America/New_York', 'month'));
    expect([iso(p.startMs), iso(p.endMs)]).toEqual(['2026-03-01T05:00:00.000Z', '2026-04-01T04:00:00.000Z']);
    // the first hours of a UTC month still belong to the previous New York month
    const before = periodOf(Date.UTC(2026, 3, 1, 3, 59), cycle('America/New_York', 'month'));
    expect(iso(before.startMs)).toBe('2026-03-01T05:00:00.000Z');
  });

  it('anchors months on a day of the month and weeks on a weekday', () => {
    const m = periodOf(Date.UTC(2026, 0, 10), cycle('UTC', 'month', 15));
    expect([iso(m.startMs), iso(m.endMs)]).toEqual(['2025-12-15T00:00:00.000Z', '2026-01-15T00:00:00.000Z']);
    // 2026-01-10 is a Saturday; weeks anchored on Wednesday (3)
    const w = periodOf(Date.UTC(2026, 0, 10, 12), cycle('Asia/Kolkata', 'week', 3));
    expect([iso(w.startMs), iso(w.endMs)]).toEqual(['2026-01-06T18:30:00.000Z', '2026-01-13T18:30:00.000Z']);
  });

  it('has 23 and 25 hour days across DST and tiles time without gaps', () => {
    const days = periodsOverlapping(Date.UTC(2026, 2, 7, 12), Date.UTC(2026, 2, 10), cycle('America/New_York', 'day'));
    expect(days.map((d) => (d.endMs - d.startMs) / 3_600_000)).toEqual([24, 23, 24]);
    for (let i = 1; i < days.length; i++) expect(days[i]!.startMs).toBe(days[i - 1]!.endMs);
    const fall = periodsOverlapping(Date.UTC(2026, 10, 1, 12), Date.UTC(2026, 10, 2, 12), cycle('America/New_York', 'day'));
    expect(fall.map((d) => (d.endMs - d.startMs) / 3_600_000)).toEqual([25, 24]);
    const santiago = periodsOverlapping(Date.UTC(2026, 8, 1), Date.UTC(2026, 10, 1), cycle('America/Santiago', 'day'));
    for (let i = 1; i < santiago.length; i++) expect(santiago[i]!.startMs).toBe(santiago[i - 1]!.endMs);
    for (const d of santiago) expect(periodOf(d.startMs, cycle('America/Santiago', 'day'))).toEqual(d);
  });

  it('remembers periods per cycle and span for one run, with the same answers as computing each', () => {
    const overlapping = overlappingPeriodsMemo();
    const cycles = [
      cycle('UTC', 'month'),
      cycle('UTC', 'month', 15),
      cycle('America/New_York', 'month'),
      cycle('America/New_York', 'week', 7),
      cycle('Asia/Kolkata', 'week', 3),
      cycle('America/Santiago', 'day'),
      cycle('Australia/Lord_Howe', 'day'),
    ];
    const DAY = 86_400_000;
    // UTC days across both 2026 DST changes in New York and Santiago, month ends and a leap day (2028-02-29)
    const days = [
      Date.UTC(2026, 2, 7),
      Date.UTC(2026, 2, 8),
      Date.UTC(2026, 3, 4),
      Date.UTC(2026, 8, 5),
      Date.UTC(2026, 10, 1),
      Date.UTC(2028, 1, 29),
      Date.UTC(2028, 2, 1),
    ];
    for (const c of cycles) {
      for (const day of days) {
        const first = overlapping(day, day + DAY, c);
        expect(first).toEqual(periodsOverlapping(day, day + DAY, c));
        // asked again, with an equal cycle object: the remembered answer
        expect(overlapping(day, day + DAY, { ...c })).toBe(first);
      }
    }
    // a cycle differing in one field, or another span, is computed on its own
    const base = overlapping(days[0]!, days[0]! + DAY, cycle('UTC', 'month'));
    expect(overlapping(days[0]!, days[0]! + DAY, cycle('UTC', 'month', 2))).not.toBe(base);
    expect(overlapping(days[0]!, days[0]! + DAY, cycle('UTC', 'week'))).not.toBe(base);
    expect(overlapping(days[0]!, days[0]! + DAY, cycle('Etc/GMT+1', 'month'))).not.toBe(base);
    expect(overlapping(days[0]!, days[0]! + 2 * DAY, cycle('UTC', 'month'))).not.toBe(base);
    expect(overlapping(days[0]! - 1, days[0]! + DAY, cycle('UTC', 'month'))).not.toBe(base);
  });
});
