import { afterAll, describe, expect, it } from 'vitest';
import { now } from './clock.js';
import { engine } from './harness.js';
import { redeliver, type SentEvent } from './redeliver.js';
import { databaseBefore, runMigrationAgain, select } from './upgrade.js';
import { migrate } from '../sql/migrations.js';
import { TABLES } from '../sql/names.js';
import { execute, type Db } from '../sql/query.js';
import { EVENT_TABLES, MERGE_SELECTOR_BASE } from '../sql/datasets/merge-selector.js';

const HOUR = 3_600_000;

/** The merge selector's base each MergeTree-family table of `db` sets in its own settings (none: the engine's default). */
async function basesOf(db: Db): Promise<Record<string, string | undefined>> {
  const rows = await select<{ name: string; engine_full: string }>(
    db,
    `SELECT name, engine_full FROM system.tables WHERE database = {database:String} AND engine LIKE '%MergeTree'`,
    { database: db.database },
  );
  return Object.fromEntries(rows.map((r) => [r.name, /\bmerge_selector_base = (\d+)/.exec(r.engine_full)?.[1]]));
}

/** The raw table's active parts (its merges are stopped while they are compared), and the numbers reads take from the raw and hour tables. */
async function snapshot(db: Db) {
  const parts = await select<{ name: string; rows: string }>(
    db,
    `SELECT name, toString(rows) AS rows FROM system.parts
     WHERE database = {database:String} AND table = {table:String} AND active ORDER BY name`,
    { database: db.database, table: TABLES.usageEvents },
  );
  const raw = await select<{ customer_id: string; events: string; total: string }>(
    db,
    `SELECT customer_id, toString(count()) AS events, toString(sum(quantity)) AS total
     FROM ${db.database}.${TABLES.usageEvents} FINAL WHERE tenant_id = 'up' GROUP BY customer_id ORDER BY customer_id`,
  );
  const hourly = await select<{ customer_id: string; events: string; total: string }>(
    db,
    `SELECT customer_id, toString(sum(events)) AS events, toString(sum(quantity_sum)) AS total
     FROM ${db.database}.${TABLES.usagePerHour} WHERE tenant_id = 'up' GROUP BY customer_id ORDER BY customer_id`,
  );
  return { parts, raw, hourly };
}

describe('migration 28: the merge selector base on the tables every event is written to', () => {
  const dbs: Db[] = [];
  afterAll(async () => {
    for (const db of dbs) await execute(db, 'test.drop', `DROP DATABASE IF EXISTS ${db.database}`);
  });

  it(`a new installation sets ${MERGE_SELECTOR_BASE} on the raw table, the billing log, the identity index and each rollup tier, and on no other table`, async () => {
    const bases = await basesOf((await engine()).deps.db);
    for (const table of EVENT_TABLES) expect(bases[table], table).toBe(String(MERGE_SELECTOR_BASE));
    const others = Object.entries(bases).filter(([table]) => !EVENT_TABLES.includes(table));
    expect(others.length).toBeGreaterThan(5); // tenants, keys, meters, billing, audit... keep the engine's default
    for (const [table, base] of others) expect(base, table).toBeUndefined();
  });

  it('an upgrade changes settings only: the parts written before stay as they are, and every number reads the same before, after and after a merge', async () => {
    const VERSION = 28;
    const db = await databaseBefore(VERSION);
    dbs.push(db);
    const start = now() - 48 * HOUR;
    const batch = (from: number): SentEvent[] =>
      Array.from({ length: 400 }, (_, k) => {
        const i = from + k;
        return {
          eventId: `ms-${i}`,
          customerId: `c-${i % 7}`,
          metricName: 'm.calls',
          timestamp: start + ((i * 7_919) % (40 * HOUR)),
          quantity: `${i % 13}.${String(i % 1_000).padStart(3, '0')}`,
          dimensions: { region: ['eu', 'us'][i % 2]! },
        };
      });
    // Three inserts, merges of the raw table stopped: three parts in each of its month partitions.
    await execute(db, 'test.stop_merges', `SYSTEM STOP MERGES ${db.database}.${TABLES.usageEvents}`);
    for (const from of [0, 400, 800]) await redeliver(db, 'up', batch(from));
    expect(Object.values(await basesOf(db)).filter(Boolean)).toEqual([]);
    const before = await snapshot(db);
    expect(before.raw.reduce((n, r) => n + Number(r.events), 0)).toBe(1_200);
    expect(before.parts.length).toBeGreaterThanOrEqual(3);

    expect(await migrate(db, { upTo: VERSION })).toEqual([VERSION]);
    await runMigrationAgain(db, VERSION);
    const bases = await basesOf(db);
    for (const table of EVENT_TABLES) expect(bases[table], table).toBe(String(MERGE_SELECTOR_BASE));
    // Metadata only: the same parts, the same rows, the same numbers.
    const after = await snapshot(db);
    expect(after.parts).toEqual(before.parts);
    expect(after.raw).toEqual(before.raw);
    expect(after.hourly).toEqual(before.hourly);

    // Merged whole, every table reads the same numbers.
    await execute(db, 'test.start_merges', `SYSTEM START MERGES ${db.database}.${TABLES.usageEvents}`);
    for (const table of EVENT_TABLES) await execute(db, 'test.merge', `OPTIMIZE TABLE ${db.database}.${table} FINAL`);
    const merged = await snapshot(db);
    expect(merged.parts.length).toBeLessThan(before.parts.length);
    expect(merged.raw).toEqual(before.raw);
    expect(merged.hourly).toEqual(before.hourly);
  });
});
