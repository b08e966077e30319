import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { engine } from './harness.js';
import { readLimits } from '../api/runtime-settings.js';
import { countRows, defineCount } from '../sql/query.js';
import { ReadLimitError } from '../sql/storage-error.js';

const numbers = defineCount({
  name: 'test.numbers',
  params: z.object({ below: z.number().int(), limit: z.number().int() }),
  rows: () => `SELECT number FROM numbers(1000) WHERE number < {below:UInt64} LIMIT {limit:UInt64}`,
});

describe('countRows', () => {
  it('counts the rows of a bound statement: all of them, or whether there is any with LIMIT 1', async () => {
    const { db } = (await engine()).deps;
    expect(await numbers(db, { below: 7, limit: 1000 })).toBe(7);
    expect(await numbers(db, { below: 7, limit: 1 })).toBe(1);
    expect(await numbers(db, { below: 0, limit: 1 })).toBe(0);
    expect(await countRows(db, 'test.count', `SELECT number FROM numbers(5)`, {})).toBe(5);
  });

  it("refuses parameters that do not fit the count's schema before running anything", async () => {
    const { db } = (await engine()).deps;
    expect(() => numbers(db, { below: 1.5, limit: 1 })).toThrow(z.ZodError);
  });

  it("runs under the connection's read limits, like every read", async () => {
    const { db, config } = (await engine()).deps;
    const limited = { ...db, readLimits: { ...readLimits(config), max_rows_to_read: 10 } };
    await expect(countRows(limited, 'test.count', `SELECT number FROM numbers(1000)`, {})).rejects.toThrow(ReadLimitError);
  });
});
