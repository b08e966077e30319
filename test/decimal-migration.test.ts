import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { waitFor } from './wait.js';
import { fromUnits, toUnits } from './oracle.js';
import { MIGRATIONS, migrate } from '../sql/migrations.js';
import { databaseBefore, runMigrationAgain } from './upgrade.js';
import { TABLES, mvName } from '../sql/names.js';
import { ROLLUP_TIERS } from '../sql/datasets/rollups.js';
import { execute, insertRows, runQuery, type Db } from '../sql/query.js';

/**
 * Migration 11 (wide decimal sums) on a database created before it, holding
 * rolled-up data and export lines: the types widen, every stored value
 * survives (also once the mutations have rewritten the parts and merges ran),
 * new inserts sum without wrapping, and running it again changes nothing.
 */
const NINES = '9'.repeat(29);
// What the old schema summed without wrapping (its Decimal(38, 9) sums hold about 1.7e29).
const HALF = `5${'0'.repeat(28)}`;
const WIDE = 11;
const text = z.object({ v: z.string() });

async function one(db: Db, sql: string, params: Record<string, unknown> = {}): Promise<string> {
  return (await runQuery(db, 'test.migration_read', sql, params, text))[0]!.v;
}

describe('migration 11 on an existing database', () => {
  it('widens rollup sums and export values, keeps what was stored, and is idempotent', async () => {
    const db = await databaseBefore(WIDE);

    // Data as the old schema stored it: two inserts (two rollup rows per tier), and export lines.
    const H = Math.floor((Date.now() - 7_200_000) / 3_600_000) * 3_600_000;
    const row = (id: string, i: number, quantity: string) => ({
      tenant_id: 'up',
      event_id: id,
      customer_id: 'c',
      metric_name: 'm',
      timestamp: H + i * 1000,
      quantity,
      dimensions: {},
      ingested_at: H,
    });
    for (const id of ['old1', 'old2']) await insertRows(db, 'test.old_event', TABLES.usageEvents, [row(id, 0, HALF)]);
    const line = (customer_id: string, value: string) => ({
      tenant_id: 'up',
      sequence: 1,
      customer_id,
      meter_key: 'k',
      period_start: H,
      period_end: H + 1,
      kind: 'usage',
      value,
      events: 1,
    });
    await insertRows(db, 'test.old_lines', TABLES.billingExportLines, [line('a', `${NINES}.999999999`), line('b', '0.000000001')]);

    const type = (table: string, column: string) =>
      one(db, `SELECT type AS v FROM system.columns WHERE database = {d:String} AND table = {t:String} AND name = {c:String}`, {
        d: db.database,
        t: table,
        c: column,
      });
    const sums = async () =>
      Promise.all(ROLLUP_TIERS.map((tier) => one(db, `SELECT toString(sum(quantity_sum)) AS v FROM ${db.database}.${tier.table} WHERE tenant_id = 'up'`)));
    const lines = () =>
      runQuery(
        db,
        'test.lines',
        `SELECT toString(value) AS v FROM ${db.database}.${TABLES.billingExportLines} FINAL WHERE tenant_id = 'up' ORDER BY customer_id`,
        {},
        text,
      );
    expect(await type(TABLES.usagePerHour, 'quantity_sum')).toBe('SimpleAggregateFunction(sum, Decimal(38, 9))');
    const twice = fromUnits(2n * toUnits(HALF));
    expect(await sums()).toEqual(ROLLUP_TIERS.map(() => twice));

    expect(await migrate(db)).toEqual(MIGRATIONS.filter((m) => m.version >= WIDE).map((m) => m.version));
    for (const tier of ROLLUP_TIERS) {
      expect(await type(tier.table, 'quantity_sum')).toBe('SimpleAggregateFunction(sum, Decimal(76, 9))');
      expect(
        await one(db, `SELECT create_table_query AS v FROM system.tables WHERE database = {d:String} AND name = {t:String}`, {
          d: db.database,
          t: mvName(tier.table),
        }),
      ).toContain('sum(toDecimal256(quantity, 9))');
    }
    expect(await type(TABLES.billingExportLines, 'value')).toBe('Decimal(76, 9)');
    expect(await sums()).toEqual(ROLLUP_TIERS.map(() => twice));
    expect((await lines()).map((r) => r.v)).toEqual([`${NINES}.999999999`, '0.000000001']);

    // Three more in one insert: the views sum them wide, and merges of old and new parts add up exactly.
    await insertRows(
      db,
      'test.new_events',
      TABLES.usageEvents,
      ['new1', 'new2', 'new3'].map((id, i) => row(id, i + 1, NINES)),
    );
    const total = fromUnits(2n * toUnits(HALF) + 3n * toUnits(NINES));
    expect(await sums()).toEqual(ROLLUP_TIERS.map(() => total));
    await waitFor(
      'the type-changing mutations',
      async () => (await one(db, `SELECT toString(countIf(NOT is_done)) AS v FROM system.mutations WHERE database = {d:String}`, { d: db.database })) === '0',
      30_000,
    );
    for (const tier of ROLLUP_TIERS) await execute(db, 'test.merge', `OPTIMIZE TABLE ${db.database}.${tier.table} FINAL`);
    expect(await sums()).toEqual(ROLLUP_TIERS.map(() => total));
    expect((await lines()).map((r) => r.v)).toEqual([`${NINES}.999999999`, '0.000000001']);

    // Idempotent: its statements again change nothing; migrate has nothing left to do.
    await runMigrationAgain(db, WIDE);
    expect(await sums()).toEqual(ROLLUP_TIERS.map(() => total));
    expect(await migrate(db)).toEqual([]);
    await execute(db, 'test.drop', `DROP DATABASE ${db.database}`);
  });
});
