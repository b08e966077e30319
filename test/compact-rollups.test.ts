import { expect, it } from 'vitest';
import { z } from 'zod';
import { now } from './clock.js';
import { engine, newTenant } from './harness.js';
import { TABLES } from '../sql/names.js';
import { execute, runQuery, type Db } from '../sql/query.js';
import { CUSTOMER_MONTH_PROJECTION } from '../sql/datasets/rollups.js';
import { compactRollups, monthPartition } from '../jobs/compact-rollups.js';

const DAY = 86_400_000;
const HOUR = 3_600_000;

/** Active parts of one month partition of a table, with the projections each has. */
async function parts(db: Db, table: string, partition: string): Promise<{ name: string; projections: string[] }[]> {
  const sql = `SELECT name, projections FROM system.parts WHERE database = {database:String} AND table = {table:String} AND partition_id = {partition:String} AND active ORDER BY name`;
  return runQuery(db, 'test.parts', sql, { database: db.database, table, partition }, z.object({ name: z.string(), projections: z.array(z.string()) }));
}

it('rollup compaction merges each settled past month of the hour and day tiers into one part; answers unchanged, the current month untouched', async () => {
  const r = await engine({ ROLLUP_COMPACT_SETTLE_SECONDS: '0' });
  const t = await newTenant();
  const db = r.deps.db;
  // The engine merges a few small parts of its own accord; here it must not, so that the parts the test makes stay
  // (OPTIMIZE ... FINAL merges whatever this floor says).
  for (const table of [TABLES.usagePerHour, TABLES.usagePerDay])
    await execute(db, 'test.no_background_merges', `ALTER TABLE ${db.database}.${table} MODIFY SETTING min_parts_to_merge_at_once = 1000`);

  const at = now();
  const d = new Date(at);
  const pastStart = Date.UTC(d.getUTCFullYear(), d.getUTCMonth() - 1, 1);
  const pastEnd = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
  const past = monthPartition(pastStart);
  const current = monthPartition(at);
  expect(past < current).toBe(true);
  const post = async (events: object[]) => expect((await t.request('POST', '/v1/events', { body: events })).status).toBe(200);
  // Three inserts into the past month (three parts in each tier), two into the current one.
  for (let batch = 0; batch < 3; batch++) {
    await post(
      [0, 1, 2].map((n) => ({
        eventId: `compact-past-${batch}-${n}`,
        customerId: `c${n}`,
        metricName: 'api.calls',
        timestamp: pastStart + (batch * 7 + n) * DAY + 5 * HOUR,
        quantity: `${batch + 1}.25`,
        dimensions: { region: n % 2 ? 'eu' : 'us' },
      })),
    );
  }
  for (let batch = 0; batch < 2; batch++) {
    await post([{ eventId: `compact-now-${batch}`, customerId: 'c0', metricName: 'api.calls', timestamp: at - (batch + 1) * 1000, quantity: '1' }]);
  }
  expect((await t.request('POST', '/v1/meters', { body: { key: 'calls', metricName: 'api.calls', aggregation: 'SUM' } })).status).toBe(201);
  // The meter reads read the hour and day tiers; the summary reads raw events until the reconciler's watermark passes these rows.
  await r.jobs.find((j) => j.name === 'rollups.reconcile')!.run();

  const reads = async () => ({
    summary: await (await t.request('GET', `/v1/usage/summary?from=${pastStart}&to=${pastEnd}`)).json(),
    hourly: await (await t.request('GET', `/v1/meters/calls/usage?customerId=c1&from=${pastStart}&to=${pastStart + 30 * DAY}&granularity=hour`)).json(),
    daily: await (await t.request('GET', `/v1/meters/calls/usage?from=${pastStart}&to=${pastEnd}&granularity=day&groupBy=customerId`)).json(),
  });
  const before = await reads();
  // Each customer: 1.25 + 2.25 + 3.25 in the past month.
  expect((before.summary as { data: { customerId: string; quantity: string; events: number }[] }).data).toEqual(
    ['c0', 'c1', 'c2'].map((customerId) => ({ customerId, metricName: 'api.calls', quantity: '6.75', events: 3 })),
  );

  // The day tier's past month gets a part without the month projection beside parts with it: such parts do not merge.
  await execute(
    db,
    'test.clear_projection',
    `ALTER TABLE ${db.database}.${TABLES.usagePerDay} CLEAR PROJECTION ${CUSTOMER_MONTH_PROJECTION} IN PARTITION ID '${past}' SETTINGS mutations_sync = 1`,
  );
  await post([{ eventId: 'compact-past-late', customerId: 'c3', metricName: 'api.calls', timestamp: pastStart + 3 * DAY, quantity: '0.5' }]);
  await r.jobs.find((j) => j.name === 'rollups.reconcile')!.run();
  const dayParts = await parts(db, TABLES.usagePerDay, past);
  expect(dayParts.length).toBeGreaterThanOrEqual(4);
  expect(dayParts.filter((p) => p.projections.includes(CUSTOMER_MONTH_PROJECTION)).length).toBeGreaterThan(0);
  expect(dayParts.filter((p) => !p.projections.includes(CUSTOMER_MONTH_PROJECTION)).length).toBeGreaterThan(0);
  expect((await parts(db, TABLES.usagePerHour, past)).length).toBeGreaterThanOrEqual(4);
  const currentHourParts = (await parts(db, TABLES.usagePerHour, current)).length;
  expect(currentHourParts).toBeGreaterThanOrEqual(2);
  const withLate = await reads();

  // The operators' gauge: the past month is split in the hour and day tiers; the current month is not counted. (The
  // minute tier keeps only the last 14 days: at most the third insert reaches it, one part.)
  const split = async () => {
    const text = await (await r.app.request('/metrics')).text();
    return Object.fromEntries([...text.matchAll(/^meterhouse_rollup_months_split\{tier="(\w+)"\} (\d+)$/gm)].map((m) => [m[1], Number(m[2])]));
  };
  expect(await split()).toMatchObject({ hour: 1, day: 1 });

  // Parts written within the settle time are left alone.
  const job = r.connection.jobDb();
  expect((await compactRollups(job, { nowMs: now(), settleSeconds: 3600 })).merged).toEqual([]);
  expect((await parts(db, TABLES.usagePerDay, past)).length).toBe(dayParts.length);

  // The job (settle 0 here) merges one partition a run, the one with the most parts first, until none is split.
  const compact = r.jobs.find((j) => j.name === 'rollups.compact')!;
  type Merged = { table: string; partition: string; partsBefore: number; partsAfter: number };
  const runs: { merged: Merged[] }[] = [];
  for (let run = 0; run < 10; run++) {
    const work = (await compact.run()) as { merged: Merged[] } | undefined;
    if (work === undefined) break;
    runs.push(work);
  }
  for (const work of runs) expect(work.merged).toHaveLength(1);
  const merged = runs.flatMap((w) => w.merged);
  expect(merged).toContainEqual({ table: TABLES.usagePerDay, partition: past, partsBefore: dayParts.length, partsAfter: 1 });
  expect(merged).toContainEqual(expect.objectContaining({ table: TABLES.usagePerHour, partition: past, partsAfter: 1 }));
  for (const m of merged) expect(m.partition < current, `${m.table} ${m.partition}`).toBe(true);
  expect(await parts(db, TABLES.usagePerDay, past)).toEqual([{ name: expect.any(String), projections: [CUSTOMER_MONTH_PROJECTION] }]);
  expect((await parts(db, TABLES.usagePerHour, past)).length).toBe(1);
  // Not the current month, which still receives parts.
  expect((await parts(db, TABLES.usagePerHour, current)).length).toBe(currentHourParts);

  const after = await reads();
  expect(after).toEqual(withLate);
  expect(await split()).toEqual({ minute: 0, hour: 0, day: 0 });
  expect((after.summary as { data: { customerId: string; quantity: string }[] }).data.map((row) => [row.customerId, row.quantity])).toEqual([
    ['c0', '6.75'],
    ['c1', '6.75'],
    ['c2', '6.75'],
    ['c3', '0.5'],
  ]);
}, 120_000);
