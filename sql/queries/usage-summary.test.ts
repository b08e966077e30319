import { describe, expect, it } from 'vitest';
import { reconciledMonths } from './usage-summary.js';

const DAY = 86_400_000;
const utc = (y: number, m: number, d = 1) => Date.UTC(y, m - 1, d);
const seconds = (ms: number) => ms / 1000;
/** The months' first days, as the summary binds them. */
const months = (from: number, to: number, unreconciled: number[]) =>
  reconciledMonths(from, to, unreconciled).map((ms) => new Date(ms).toISOString().slice(0, 10));

describe('reconciledMonths: the whole UTC months of [from, to) with no unreconciled day', () => {
  it('takes the months wholly inside the window, none that it cuts', () => {
    expect(months(utc(2026, 10), utc(2026, 11), [])).toEqual(['2026-10-01']);
    expect(months(utc(2026, 9, 15), utc(2026, 12, 2), [])).toEqual(['2026-10-01', '2026-11-01']);
    expect(months(utc(2026, 10) + 1, utc(2026, 11), [])).toEqual([]); // 1 ms into October
    expect(months(utc(2026, 10), utc(2026, 11) - 1, [])).toEqual([]);
    expect(months(utc(2026, 10, 2), utc(2026, 10, 30), [])).toEqual([]);
  });

  it('crosses years and keeps February whole in a leap year', () => {
    expect(months(utc(2027, 12), utc(2028, 3), [])).toEqual(['2027-12-01', '2028-01-01', '2028-02-01']);
    expect(months(utc(2028, 2), utc(2028, 2, 29), [])).toEqual([]); // 29 February is February's
    expect(months(utc(2028, 2), utc(2028, 2, 29) + DAY, [])).toEqual(['2028-02-01']);
  });

  it('leaves out a month holding an unreconciled day, from its first day to its last', () => {
    const from = utc(2026, 9);
    const to = utc(2026, 12);
    expect(months(from, to, [seconds(utc(2026, 10))])).toEqual(['2026-09-01', '2026-11-01']);
    expect(months(from, to, [seconds(utc(2026, 10, 31))])).toEqual(['2026-09-01', '2026-11-01']);
    expect(months(from, to, [seconds(utc(2026, 9, 30)), seconds(utc(2026, 11))])).toEqual(['2026-10-01']);
    // A day outside the months changes nothing.
    expect(months(utc(2026, 8, 31), to, [seconds(utc(2026, 8, 31))])).toEqual(['2026-09-01', '2026-10-01', '2026-11-01']);
  });
});
