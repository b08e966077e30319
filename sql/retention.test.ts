import { describe, expect, it } from 'vitest';
import { ttlAfter, ttlDays } from './retention.js';

describe('ttlDays', () => {
  it('reads back the days of every TTL ttlAfter writes, whatever the clock offset', () => {
    for (const days of [1, 14, 400]) {
      for (const offsetMs of [0, 3_600_000, -86_400_000 * 30, 86_400_000 * 700 + 1234]) {
        expect(ttlDays(ttlAfter('window_start', days, offsetMs), offsetMs)).toBe(days);
      }
    }
  });
  it('reads a TTL written under another clock offset to the nearest day', () => {
    expect(ttlDays(ttlAfter('window_start', 14, 5_000), 60_000)).toBe(14);
  });
  it('no TTL keeps forever; a TTL meterhouse did not write is unknown', () => {
    expect(ttlDays(undefined)).toBe(0);
    expect(ttlDays('window_start + toIntervalMonth(1)')).toBeUndefined();
    expect(ttlDays("window_start + toIntervalDay(14) DELETE WHERE tenant_id = 'a'")).toBeUndefined();
  });
});
