import { describe, expect, it } from 'vitest';
import { CountTooLargeError } from '../count.js';
import { meterUsage, meterValue, type MeterUsageQuery } from './meter-usage.js';
import { rollupTier } from '../datasets/rollups.js';
import type { Db } from '../query.js';

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

describe('meterUsage statements', () => {
  // A client that keeps each statement's text and answers no rows: only the SQL is under test here.
  function recordingDb(): { db: Db; statements: string[] } {
    const statements: string[] = [];
    const client = {
      query: async ({ query }: { query: string }) => {
        statements.push(query);
        return { json: async () => [] };
      },
    };
    return { db: { client: client as unknown as Db['client'], database: 'meterhouse', readSettings: { max_threads: 1 } }, statements };
  }
  const query = (source: MeterUsageQuery['source']): MeterUsageQuery => ({
    tenantId: 't',
    metricName: 'm',
    aggregation: 'SUM',
    source,
    granularity: 'hour',
    tz: 'UTC',
    fromMs: 0,
    toMs: 3_600_000,
    customerId: 'c',
    groupByCustomer: false,
    groupBy: [],
    filters: [],
  });

  it("reads a rollup tier without the engine's automatic PREWHERE, keeping the Db's own settings", async () => {
    const { db, statements } = recordingDb();
    await meterUsage(db, query({ kind: 'rollup', tier: rollupTier('hour') }));
    expect(statements).toHaveLength(1);
    expect(statements[0]).toContain('FROM meterhouse.usage_per_hour');
    expect(statements[0]).toMatch(/\nSETTINGS .*\bmax_threads = 1\b/);
    expect(statements[0]).toMatch(/\nSETTINGS .*\boptimize_move_to_prewhere = 0\b/);
  });

  it("leaves raw reads to the engine's PREWHERE", async () => {
    const { db, statements } = recordingDb();
    await meterUsage(db, query({ kind: 'raw' }));
    expect(statements).toHaveLength(1);
    expect(statements[0]).toContain('FROM meterhouse.usage_events FINAL');
    expect(statements[0]).toMatch(/\nSETTINGS .*\bmax_threads = 1\b/);
    expect(statements[0]).not.toContain('optimize_move_to_prewhere');
  });
});
