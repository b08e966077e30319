import { afterEach, expect, it } from 'vitest';
import { envNumber, percentile } from './common.js';

const ascending = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

it('percentiles by nearest rank: the smallest value at least p% of the values are at or below', () => {
  // p99 of 30 values is their maximum; of 100 the 99th; of 200 the 198th; of 300 the 297th.
  expect(percentile(ascending(30), 99)).toBe(30);
  expect(percentile(ascending(100), 99)).toBe(99);
  expect(percentile(ascending(200), 99)).toBe(198);
  expect(percentile(ascending(300), 99)).toBe(297);
  // p50 of an even count is the lower middle value, of an odd count the middle one.
  expect(percentile(ascending(30), 50)).toBe(15);
  expect(percentile(ascending(31), 50)).toBe(16);
  expect(percentile(ascending(1), 99)).toBe(1);
  expect(percentile(ascending(10), 0)).toBe(1);
  expect(percentile(ascending(10), 100)).toBe(10);
});

afterEach(() => {
  delete process.env.BENCH_TEST_SETTING;
});

it('reads a numeric setting, its fallback when unset or empty, and refuses one that is not a number', () => {
  expect(envNumber('BENCH_TEST_SETTING', 100)).toBe(100);
  process.env.BENCH_TEST_SETTING = '';
  expect(envNumber('BENCH_TEST_SETTING', 100)).toBe(100);
  process.env.BENCH_TEST_SETTING = '10000000';
  expect(envNumber('BENCH_TEST_SETTING', 100)).toBe(10_000_000);
  process.env.BENCH_TEST_SETTING = '1e6';
  expect(envNumber('BENCH_TEST_SETTING', 100)).toBe(1_000_000);
  for (const bad of ['10M', 'abc', '1,000', 'Infinity']) {
    process.env.BENCH_TEST_SETTING = bad;
    expect(() => envNumber('BENCH_TEST_SETTING', 100)).toThrow(`BENCH_TEST_SETTING="${bad}" is not a number`);
  }
});
