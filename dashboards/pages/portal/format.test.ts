import { describe, expect, it } from 'vitest';
import { formatAge, formatDecimal, formatPeriod, ratioAsPercent } from './format.js';

describe('formatDecimal', () => {
  it('groups and punctuates for the locale without dropping a digit', () => {
    expect(formatDecimal('12345678901234567890.123456789', 'en-US')).toBe('12,345,678,901,234,567,890.123456789');
    expect(formatDecimal('1234.000000001', 'de-DE')).toBe('1.234,000000001');
    expect(formatDecimal('-0.5', 'en-US')).toBe('-0.5');
    expect(formatDecimal(42, 'en-US')).toBe('42');
    expect(formatDecimal('not a number', 'en-US')).toBe('not a number');
  });
});

describe('formatPeriod', () => {
  it('shows the local dates of a half-open period', () => {
    expect(formatPeriod('2026-10-31T23:00:00.000Z', '2026-11-30T23:00:00.000Z', 'Europe/Berlin', 'en-GB')).toBe('1 Nov 2026 – 30 Nov 2026');
  });
});

describe('formatAge', () => {
  it('counts seconds, then minutes', () => {
    expect(formatAge(4_400)).toBe('4 s ago');
    expect(formatAge(125_000)).toBe('2 min ago');
  });
});

describe('ratioAsPercent', () => {
  it('moves the point two places and truncates, never rounding up to 100', () => {
    expect(ratioAsPercent('0.6')).toBe('60');
    expect(ratioAsPercent('0.999999999')).toBe('99.99');
    expect(ratioAsPercent('0.333333333')).toBe('33.33');
    expect(ratioAsPercent('0.05')).toBe('5');
    expect(ratioAsPercent('0')).toBe('0');
    expect(ratioAsPercent('12.3456')).toBe('1234.56');
    expect(ratioAsPercent('-0.5')).toBe('-50');
  });
});
