import { describe, expect, it } from 'vitest';
import { pageOf, reconciledMonths } from './usage-summary.js';

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

describe('pageOf (the engine JSONEachRow lines of a summary as one page, joined in place)', () => {
  const row = (i: number) => ({ customerId: `c-${i}/"\n\u00e9`, metricName: 'api.calls', quantity: `${i}.000000001`, events: i });
  const lines = (n: number) => Buffer.from(Array.from({ length: n }, (_, i) => `${JSON.stringify(row(i))}\n`).join(''));

  it('is the elements of a JSON array of the first `limit` rows, a view of the lines, with the last of them and whether more follow', () => {
    for (const [n, limit] of [
      [0, 3],
      [1, 3],
      [3, 3],
      [4, 3],
      [1, 1],
      [2, 1],
    ] as const) {
      const given = lines(n);
      const page = pageOf(given, limit);
      const expected = Array.from({ length: Math.min(n, limit) }, (_, i) => row(i));
      expect(JSON.parse(`[${page.elements.toString('utf8')}]`), `${n} rows, limit ${limit}`).toEqual(expected);
      // no copy: the elements are the given bytes, from their start
      expect(page.elements.buffer).toBe(given.buffer);
      expect(page.elements.byteOffset).toBe(given.byteOffset);
      expect(page.last).toEqual(expected.at(-1));
      expect(page.more).toBe(n > limit);
    }
  });

  it('refuses a last row that is not a summary row (a count beyond 2^53 included)', () => {
    expect(() => pageOf(Buffer.from('{"customerId":"c","metricName":"m","quantity":"1","events":9007199254740993}\n'), 5)).toThrow(/2\^53/);
    expect(() => pageOf(Buffer.from('{"customerId":"c","metricName":"m","quantity":1,"events":1}\n'), 5)).toThrow();
    // a row without its line end is refused, never dropped
    expect(() => pageOf(Buffer.from('{"customerId":"c","metricName":"m","quantity":"1","events":1}'), 5)).toThrow(/line end/);
  });
});
