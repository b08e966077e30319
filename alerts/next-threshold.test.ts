import { describe, expect, it } from 'vitest';
import { absoluteOf } from './thresholds.js';
import { nextThreshold, progressRatio } from './next-threshold.js';

const rule = (r: Partial<Parameters<typeof nextThreshold>[0]>) => ({
  thresholds: [],
  every: '',
  direction: 'rising' as const,
  unit: 'absolute' as const,
  ...r,
});

describe('the next threshold', () => {
  it('is the lowest one-time threshold not reached', () => {
    expect(nextThreshold(rule({ thresholds: ['100', '50', '200'] }), '49.999999999', undefined)?.key).toBe('50');
    expect(nextThreshold(rule({ thresholds: ['100', '50', '200'] }), '50', undefined)?.key).toBe('100');
    expect(nextThreshold(rule({ thresholds: ['100', '50'] }), '100', undefined)).toBeUndefined();
  });

  it('is the next recurring step when that comes first', () => {
    expect(nextThreshold(rule({ thresholds: ['1000'], every: '300' }), '600', undefined)?.key).toBe('900');
    expect(nextThreshold(rule({ thresholds: ['700'], every: '300' }), '600', undefined)?.key).toBe('700');
    expect(nextThreshold(rule({ every: '0.5' }), '-3', undefined)?.key).toBe('0.5');
  });

  it('is a percentage of the allowance, compared exactly', () => {
    const t = nextThreshold(rule({ thresholds: ['33.333333333', '50'], unit: 'percent' }), '0.999999999', '3')!;
    // 33.333333333% of 3 is 0.99999999999: not reached by 0.999999999.
    expect(t.key).toBe('33.333333333');
    expect(absoluteOf(t)).toBe('1');
    expect(nextThreshold(rule({ thresholds: ['33.333333333', '50'], unit: 'percent' }), '1', '3')!.key).toBe('50');
    expect(nextThreshold(rule({ every: '10', unit: 'percent' }), '25', '100')!.key).toBe('30');
  });

  it('does not exist for a falling rule', () => {
    expect(nextThreshold(rule({ thresholds: ['10'], direction: 'falling' }), '5', undefined)).toBeUndefined();
  });
});

describe('progress', () => {
  it('is value / threshold in integers, truncated to 9 decimals, never rounded up to 1', () => {
    const t = nextThreshold(rule({ thresholds: ['3'] }), '1', undefined)!;
    expect(progressRatio('1', t)).toBe('0.333333333');
    expect(progressRatio('2.999999999', t)).toBe('0.999999999');
    // Beyond a double's precision: 12345678901234567.89 / 12345678901234567.9
    const big = nextThreshold(rule({ thresholds: ['12345678901234567.9'] }), '12345678901234567.89', undefined)!;
    expect(progressRatio('12345678901234567.89', big)).toBe('0.999999999');
    const pct = nextThreshold(rule({ thresholds: ['80'], unit: 'percent' }), '4000', '10000')!;
    expect(progressRatio('4000', pct)).toBe('0.5');
    expect(progressRatio('5', nextThreshold(rule({ thresholds: ['0'] }), '-1', undefined)!)).toBeNull();
  });
});
