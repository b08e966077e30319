import { describe, expect, it } from 'vitest';
import { formatAge, formatDecimal, formatPeriod } from './format.js';

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
