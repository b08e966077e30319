import { afterAll, expect, it } from 'vitest';
import { z } from 'zod';
import { now, testClock } from './clock.js';
import { closeEngine, engine, newTenant, type TestTenant } from './harness.js';
import { TABLES } from '../sql/names.js';
import { execute, runQuery, type Db } from '../sql/query.js';
import { ROLLUP_TIERS, rollupSelect, rollupTier, type RollupTier } from '../sql/datasets/rollups.js';
import { reconcileRollups } from '../jobs/reconcile-rollups.js';
import { writeWatermark } from '../sql/queries/reconcile.js';

afterAll(closeEngine);

// The reconciler compares the hour tier with raw events and rewrites a stale hour's minute, hour and
// day rows, one tier after the other: DELETE, then INSERT ... SELECT from raw events. An insert that
// lands between a tier's DELETE and its INSERT is counted twice in that tier (by the view and by the
// rewrite's read), while the tiers rewritten before it are exact. When that tier is the day (or the
// minute) tier, comparing only the hour tier with raw events never sees it. These tests put a tier
// in that state directly (one event's rows written into it a second time) and land a new event in
// its window, as the racing insert itself does.

const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;
const clockOffsetMs = testClock.offsetMs;

/** A UTC day three days before the product's now: settled, not live, inside every default retention. */
const dayStart = () => {
  const d = now() - 3 * DAY_MS;
  return d - (d % DAY_MS);
};

async function send(t: TestTenant, events: { eventId: string; timestamp: number; quantity: string }[]) {
  const body = events.map((e) => ({ ...e, customerId: 'c', metricName: 'tiers' }));
  expect((await t.json('POST', '/v1/events', { body })).status).toBe(200);
}

/** One event's rows in `tierName` written a second time, as a rewrite that raced its insert leaves them. */
async function countTwiceIn(db: Db, tierName: RollupTier['name'], tenantId: string, eventId: string) {
  const source = `${db.database}.${TABLES.usageEvents} FINAL`;
  const select = rollupSelect(rollupTier(tierName), source, 'tenant_id = {tenantId:String} AND event_id = {eventId:String}');
  await execute(db, 'test.count_twice', `INSERT INTO ${db.database}.${rollupTier(tierName).table}\n${select}`, { tenantId, eventId });
}

/** Events and quantity of the tenant in each tier and in the deduplicated raw events. */
async function totals(db: Db, tenantId: string) {
  const row = z.object({ events: z.coerce.number(), quantity: z.string() });
  const one = async (sql: string) => (await runQuery(db, 'test.totals', sql, { tenantId }, row))[0];
  const d = db.database;
  const out: Record<string, unknown> = {
    raw: await one(
      `SELECT count() AS events, toString(sum(quantity)) AS quantity FROM ${d}.${TABLES.usageEvents} FINAL WHERE tenant_id = {tenantId:String} AND is_deleted = 0`,
    ),
  };
  for (const t of ROLLUP_TIERS) {
    out[t.name] = await one(`SELECT sum(events) AS events, toString(sum(quantity_sum)) AS quantity FROM ${d}.${t.table} WHERE tenant_id = {tenantId:String}`);
  }
  return out;
}

const exact = (events: number, quantity: string) => {
  const v = { events, quantity };
  return { raw: v, minute: v, hour: v, day: v };
};

/** A new tenant whose event `a` (at `offsetMs` into its window) is reconciled, then counted twice in `tierName`. */
async function countedTwice(tierName: RollupTier['name'], windowStart: number, offsetMs: number, quantity: string) {
  const { deps } = await engine();
  const t = await newTenant();
  await send(t, [{ eventId: 'a', timestamp: windowStart + offsetMs, quantity }]);
  await reconcileRollups(deps.db, { settleMs: 0, clockOffsetMs });
  await countTwiceIn(deps.db, tierName, t.tenantId, 'a');
  return { db: deps.db, t };
}

it('a day counted twice after a rewrite raced an insert is rewritten when the racing row lands in another hour of it', async () => {
  const D = dayStart();
  const { db, t } = await countedTwice('day', D, 2 * HOUR_MS, '5');
  expect((await totals(db, t.tenantId)).day).toEqual({ events: 2, quantity: '10' });

  // The racing insert: a row in hour 5 of the day. Hour 2 and hour 5 agree with raw events; the day does not.
  await send(t, [{ eventId: 'b', timestamp: D + 5 * HOUR_MS, quantity: '7' }]);
  const run = await reconcileRollups(db, { settleMs: 0, clockOffsetMs });
  expect(run.rewritten).toBe(0);
  expect(run.daysRewritten).toBeGreaterThanOrEqual(1);
  expect(await totals(db, t.tenantId)).toEqual(exact(2, '12'));
  // A meter reads the day tier as it stands.
  await t.json('POST', '/v1/meters', { body: { key: 'tiers', metricName: 'tiers', aggregation: 'SUM' } });
  const daily = await t.json('GET', `/v1/meters/tiers/usage?from=${D}&to=${D + DAY_MS}&granularity=day`);
  expect(daily.body.meta.source).toBe('usage_per_day');
  expect(daily.body.data).toEqual([expect.objectContaining({ value: '12' })]);

  // Nothing is left to do: the next run compares the same windows and finds them exact.
  const again = await reconcileRollups(db, { settleMs: 0, clockOffsetMs });
  expect(again.daysRewritten).toBe(0);
});

it('an hour of minute rows counted twice is rewritten when the racing row lands in another minute of it', async () => {
  const H = dayStart() + 9 * HOUR_MS;
  const { db, t } = await countedTwice('minute', H, 60_000, '2.5');
  await send(t, [{ eventId: 'b', timestamp: H + 30 * 60_000, quantity: '1' }]);
  const run = await reconcileRollups(db, { settleMs: 0, clockOffsetMs });
  expect(run.rewritten).toBe(0);
  expect(run.minuteHoursRewritten).toBeGreaterThanOrEqual(1);
  expect(await totals(db, t.tenantId)).toEqual(exact(2, '3.5'));
});

it('a day with an hour still receiving rows is compared by a later run, once that hour has settled', async () => {
  const D = dayStart();
  const { db, t } = await countedTwice('day', D, 3 * HOUR_MS, '4');
  await send(t, [{ eventId: 'b', timestamp: D + 4 * HOUR_MS, quantity: '1' }]);

  // Hour 4 received a row just now: within a 60 s settle time neither it nor its day is compared.
  const early = await reconcileRollups(db, { settleMs: 60_000, clockOffsetMs });
  expect(early.daysRewritten).toBe(0);
  expect((await totals(db, t.tenantId)).day).toEqual({ events: 3, quantity: '9' });

  const later = await reconcileRollups(db, { settleMs: 60_000, nowMs: Date.now() + 61_000, clockOffsetMs });
  expect(later.daysRewritten).toBeGreaterThanOrEqual(1);
  expect(await totals(db, t.tenantId)).toEqual(exact(2, '5'));
});

/**
 * A new tenant whose event `a` (a minute into hour `hour` of dayStart()) is reconciled, then its minute rows
 * deleted, as the minute tier's TTL leaves an hour three days old under a retention of 1 day.
 */
async function reconciledWithoutMinutes(hour: number, quantity: string) {
  const { deps } = await engine();
  const t = await newTenant();
  const H = dayStart() + hour * HOUR_MS;
  await send(t, [{ eventId: 'a', timestamp: H + 60_000, quantity }]);
  await reconcileRollups(deps.db, { settleMs: 0, clockOffsetMs });
  await execute(deps.db, 'test.expire_minutes', `DELETE FROM ${deps.db.database}.${TABLES.usagePerMinute} WHERE tenant_id = {tenantId:String}`, {
    tenantId: t.tenantId,
  });
  return { deps, t, H };
}

it('minute rows past the minute retention are not compared (the tier keeps none there by design)', async () => {
  const { deps, t, H } = await reconciledWithoutMinutes(15, '8');
  await send(t, [{ eventId: 'b', timestamp: H + 120_000, quantity: '1' }]);
  const retention = { minute: 1, hour: 400, day: 0 };
  const run = await reconcileRollups(deps.db, { settleMs: 0, clockOffsetMs, retention });
  expect(run.minuteHoursRewritten).toBe(0);
  const after = await totals(deps.db, t.tenantId);
  expect(after.minute).toEqual({ events: 1, quantity: '1' }); // only b's row, from its insert's view
  expect(after.day).toEqual({ events: 2, quantity: '9' });
});

it("a stale hour older than the minute tier's retention gets its hour and day rows rewritten and no minute rows back", async () => {
  const { deps, t, H } = await reconciledWithoutMinutes(11, '6');
  // The hour and day tiers count `a` twice, so the hour is stale against raw events; `b` lands in it.
  await countTwiceIn(deps.db, 'hour', t.tenantId, 'a');
  await countTwiceIn(deps.db, 'day', t.tenantId, 'a');
  await send(t, [{ eventId: 'b', timestamp: H + 120_000, quantity: '1' }]);

  const run = await reconcileRollups(deps.db, { settleMs: 0, clockOffsetMs, retention: { minute: 1, hour: 400, day: 0 } });
  expect(run.rewritten).toBe(1);
  const exactTotals = { events: 2, quantity: '7' };
  // The minute tier keeps only b's row from its insert's view: the rewrite wrote no minute rows for the TTL to delete.
  expect(await totals(deps.db, t.tenantId)).toEqual({ raw: exactTotals, hour: exactTotals, day: exactTotals, minute: { events: 1, quantity: '1' } });
});

it("after a tier's retention grows, a full pass writes the windows its view and TTL left out", async () => {
  const { deps, t } = await reconciledWithoutMinutes(13, '2');
  // A run under the 1-day minute retention, late enough that its watermark passes `a`: later runs no longer look at it.
  await reconcileRollups(deps.db, { settleMs: 0, clockOffsetMs, nowMs: Date.now() + 3 * 60_000, retention: { minute: 1, hour: 400, day: 0 } });
  // The minute retention grows back to 14 days; `meterhouse reconcile --full` starts from watermark 0.
  await writeWatermark(deps.db, 0);
  const run = await reconcileRollups(deps.db, { settleMs: 0, clockOffsetMs, retention: { minute: 14, hour: 400, day: 0 } });
  expect(run.minuteHoursRewritten).toBeGreaterThanOrEqual(1);
  expect(await totals(deps.db, t.tenantId)).toEqual(exact(1, '2'));
});
