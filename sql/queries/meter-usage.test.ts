import { describe, expect, it } from 'vitest';
import { CountTooLargeError } from '../count.js';
import { meterValue } from './meter-usage.js';

describe('meterValue', () => {
  it('gives a count as a JSON number, exactly, up to 2^53 - 1', () => {
    expect(meterValue('COUNT', '42')).toBe(42);
    expect(meterValue('UNIQUE_COUNT', '9007199254740991')).toBe(9_007_199_254_740_991);
  });

  it('refuses a count of 2^53 or more instead of rounding it', () => {
    for (const v of ['9007199254740992', '9007199254740993', '18446744073709551615']) {
      expect(() => meterValue('COUNT', v)).toThrow(CountTooLargeError);
    }
  });

  it("gives any other aggregation as the engine's decimal text", () => {
    expect(meterValue('SUM', '123456789012345678901234567.123456789')).toBe('123456789012345678901234567.123456789');
    expect(meterValue('MAX', 7)).toBe('7');
  });
});
