import { describe, expect, it } from 'vitest';
import { recentPeriods } from './customer-periods.js';

const iso = (ms: number) => new Date(ms).toISOString();

describe('recentPeriods', () => {
  it('gives the current local period and the ones before it, across a DST change, newest first', () => {
    const { current, previous } = recentPeriods(Date.parse('2026-04-02T12:00:00Z'), { timezone: 'Europe/Berlin', interval: 'month', anchorDay: 1 }, 2);
    expect([iso(current.startMs), iso(current.endMs)]).toEqual(['2026-03-31T22:00:00.000Z', '2026-04-30T22:00:00.000Z']);
    expect(previous.map((p) => [iso(p.startMs), iso(p.endMs)])).toEqual([
      ['2026-02-28T23:00:00.000Z', '2026-03-31T22:00:00.000Z'],
      ['2026-01-31T23:00:00.000Z', '2026-02-28T23:00:00.000Z'],
    ]);
  });
});
