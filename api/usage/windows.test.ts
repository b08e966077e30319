import { describe, expect, it } from 'vitest';
import { DateTime } from 'luxon';
import { MAX_WINDOWS, windowsFor } from './windows.js';
import { chooseSource } from './plan.js';
import { tierKeptFrom } from '../../sql/datasets/rollups.js';

const iso = (ms: number) => new Date(ms).toISOString();
const hours = (w: { startMs: number; endMs: number }) => (w.endMs - w.startMs) / 3_600_000;

describe('windowsFor', () => {
  it('makes local days of 23 and 25 hours across DST changes', () => {
    const spring = windowsFor(Date.parse('2026-03-07T05:00:00Z'), Date.parse('2026-03-10T04:00:00Z'), 'day', 'America/New_York')!;
    expect(spring.map(hours)).toEqual([24, 23, 24]);
    const fall = windowsFor(Date.parse('2026-10-25T00:00:00Z'), Date.parse('2026-10-27T00:00:00Z'), 'day', 'Europe/Berlin')!;
    expect(fall.map((w) => iso(w.alignedStartMs))).toEqual(['2026-10-24T22:00:00.000Z', '2026-10-25T23:00:00.000Z', '2026-10-26T23:00:00.000Z']);
    expect(hours(fall[1]!)).toBe(24);
    expect(hours({ startMs: fall[0]!.alignedStartMs, endMs: fall[0]!.endMs })).toBe(25);
  });

  it('clips the first and last windows to [from, to) and makes local months and Monday weeks', () => {
    const m = windowsFor(Date.parse('2026-01-15T00:00:00Z'), Date.parse('2026-03-02T00:00:00Z'), 'month', 'Asia/Tokyo')!;
    expect(m.map((w) => [iso(w.startMs), iso(w.endMs)])).toEqual([
      ['2026-01-15T00:00:00.000Z', '2026-01-31T15:00:00.000Z'],
      ['2026-01-31T15:00:00.000Z', '2026-02-28T15:00:00.000Z'],
      ['2026-02-28T15:00:00.000Z', '2026-03-02T00:00:00.000Z'],
    ]);
    const w = windowsFor(Date.parse('2026-11-18T00:00:00Z'), Date.parse('2026-11-24T00:00:00Z'), 'week', 'UTC')!;
    expect(w.map((x) => iso(x.alignedStartMs))).toEqual(['2026-11-16T00:00:00.000Z', '2026-11-23T00:00:00.000Z']);
  });

  it('steps hours and minutes as elapsed time from the first local start, in any zone and across DST changes', () => {
    // The reference: one luxon DateTime per window, as windowsFor made them before.
    const stepped = (fromMs: number, toMs: number, unit: 'hour' | 'minute', tz: string) => {
      const out: { alignedStartMs: number; startMs: number; endMs: number }[] = [];
      for (let start = DateTime.fromMillis(fromMs, { zone: tz }).startOf(unit); start.toMillis() < toMs;) {
        const end = start.plus({ [`${unit}s`]: 1 });
        out.push({ alignedStartMs: start.toMillis(), startMs: Math.max(start.toMillis(), fromMs), endMs: Math.min(end.toMillis(), toMs) });
        start = end;
      }
      return out;
    };
    const cases: [string, string, string][] = [
      ['UTC', '2026-10-01T00:17:00Z', '2026-11-01T00:00:00Z'],
      ['America/New_York', '2026-03-07T22:10:00Z', '2026-03-09T03:05:00Z'],
      ['Europe/Berlin', '2026-10-24T20:00:00Z', '2026-10-26T01:00:00Z'],
      ['Asia/Kolkata', '2026-03-01T00:00:00Z', '2026-03-03T00:00:00.001Z'],
      ['Asia/Kathmandu', '2026-03-01T00:00:00Z', '2026-03-02T00:00:00Z'],
      // A DST change of 30 minutes: local hours are 30 minutes off UTC hours for half the year.
      ['Australia/Lord_Howe', '2026-04-04T12:00:00Z', '2026-04-05T20:00:00Z'],
    ];
    for (const [tz, from, to] of cases) {
      for (const unit of ['hour', 'minute'] as const) {
        const fromMs = Date.parse(from);
        const toMs = unit === 'minute' ? fromMs + 3 * 3_600_000 : Date.parse(to);
        expect(windowsFor(fromMs, toMs, unit, tz), `${tz} ${unit}`).toEqual(stepped(fromMs, toMs, unit, tz));
      }
    }
    expect(
      windowsFor(Date.parse('2026-03-01T00:00:00Z'), Date.parse('2026-03-01T02:00:00Z'), 'hour', 'Asia/Kolkata')!.map((w) => iso(w.alignedStartMs)),
    ).toEqual(['2026-02-28T23:30:00.000Z', '2026-03-01T00:30:00.000Z', '2026-03-01T01:30:00.000Z']);
  });

  it('refuses more than MAX_WINDOWS windows', () => {
    expect(windowsFor(0, (MAX_WINDOWS + 1) * 60_000, 'minute', 'UTC')).toBeUndefined();
    expect(windowsFor(0, MAX_WINDOWS * 60_000, 'minute', 'UTC')).toHaveLength(MAX_WINDOWS);
  });
});

describe('chooseSource', () => {
  const now = Date.parse('2026-11-21T00:00:00Z');
  const keep = { minute: 14, hour: 400, day: 0 };
  const plan = (from: string, to: string, granularity: 'hour' | 'day' | 'month', tz: string, aggregation: 'SUM' | 'P99' = 'SUM') => {
    const s = chooseSource(windowsFor(Date.parse(from), Date.parse(to), granularity, tz)!, aggregation, tierKeptFrom(keep, now));
    return s.kind === 'raw' ? 'raw' : s.tier.name;
  };
  it('reads the coarsest tier aligned with every window bound', () => {
    expect(plan('2026-11-01T00:00:00Z', '2026-11-20T00:00:00Z', 'day', 'UTC')).toBe('day');
    expect(plan('2026-11-01T05:00:00Z', '2026-11-20T05:00:00Z', 'day', 'America/New_York')).toBe('hour');
    expect(plan('2026-11-18T00:30:00Z', '2026-11-20T00:30:00Z', 'hour', 'Asia/Kolkata')).toBe('minute');
    expect(plan('2026-11-01T00:00:17Z', '2026-11-20T00:00:00Z', 'day', 'UTC')).toBe('raw');
  });
  it('falls back when a tier no longer keeps data that old, and for percentiles finer than days', () => {
    expect(plan('2026-01-01T00:30:00Z', '2026-01-02T00:30:00Z', 'hour', 'Asia/Kolkata')).toBe('raw');
    expect(plan('2024-01-01T05:00:00Z', '2024-02-01T05:00:00Z', 'month', 'America/New_York')).toBe('raw');
    expect(plan('2024-01-01T00:00:00Z', '2024-02-01T00:00:00Z', 'month', 'UTC')).toBe('day');
    // Only the day tier keeps every quantity: a UTC day reads it, a New York day (hour bounds) reads raw events.
    expect(plan('2026-11-01T00:00:00Z', '2026-11-20T00:00:00Z', 'day', 'UTC', 'P99')).toBe('day');
    expect(plan('2026-11-01T05:00:00Z', '2026-11-20T05:00:00Z', 'day', 'America/New_York', 'P99')).toBe('raw');
    expect(plan('2026-11-18T00:00:00Z', '2026-11-20T00:00:00Z', 'hour', 'UTC', 'P99')).toBe('raw');
  });
  it('takes a tier whose grown retention is still being filled only from where it holds every window', () => {
    const readable = { ...tierKeptFrom(keep, now), minute: Date.parse('2026-11-19T00:00:00Z') };
    const kolkata = (from: string, to: string) => {
      const s = chooseSource(windowsFor(Date.parse(from), Date.parse(to), 'hour', 'Asia/Kolkata')!, 'SUM', readable);
      return s.kind === 'raw' ? 'raw' : s.tier.name;
    };
    expect(kolkata('2026-11-18T00:30:00Z', '2026-11-20T00:30:00Z')).toBe('raw');
    expect(kolkata('2026-11-19T00:30:00Z', '2026-11-20T00:30:00Z')).toBe('minute');
  });
});
