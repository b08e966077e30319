import { afterAll, describe, expect, it } from 'vitest';
import { now, testClock } from './clock.js';
import { closeEngine, engine, newTenant, type TestTenant } from './harness.js';
import { TABLES } from '../sql/names.js';
import { execute, type Db } from '../sql/query.js';
import { rollupSelect, rollupTier, type RollupTier } from '../sql/datasets/rollups.js';
import { reconcileRollups } from '../jobs/reconcile-rollups.js';
import { TIER_CHECKS, driftedWindows, staleWindows } from '../sql/queries/reconcile.js';

afterAll(closeEngine);

// The reconciler compares two sides of a window (raw events and the hour tier; the hour tier and the
// day tier) by the sum of a fingerprint per customer: its count, sum, min, max, latest quantity and
// dimension maps hashed together. Each case below writes one tier of a window from the raw events
// with one thing changed, keeping everything else (and the window's count and sum) equal, and checks
// that the comparison finds that window, and only it, and that the reconciler's run makes it exact.

const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;
const clockOffsetMs = testClock.offsetMs;
const KEPT_FOREVER = { minute: 0, hour: 0, day: 0 };
const METRIC = 'fingerprint';

/** An hour three days before the product's now: settled, not live, inside every default retention. */
const hourStart = () => {
  const d = now() - 3 * DAY_MS;
  return d - (d % DAY_MS) + 5 * HOUR_MS;
};

/**
 * Customer c1: a (2, the latest), b (1, the least), d (5, the most), e (3), in region eu; customer c2: f (4).
 * Count 5, sum 15.
 */
async function sendEvents(t: TestTenant, H: number) {
  const c1 = [
    { eventId: 'a', timestamp: H + 3_000_000, quantity: '2' },
    { eventId: 'b', timestamp: H + 1_000_000, quantity: '1' },
    { eventId: 'd', timestamp: H + 2_000_000, quantity: '5' },
    { eventId: 'e', timestamp: H + 1_500_000, quantity: '3' },
  ].map((e) => ({ ...e, customerId: 'c1', dimensions: { region: 'eu' } }));
  const body = [...c1, { eventId: 'f', customerId: 'c2', timestamp: H + 500_000, quantity: '4', dimensions: { region: 'eu' } }];
  expect((await t.json('POST', '/v1/events', { body: body.map((e) => ({ ...e, metricName: METRIC })) })).status).toBe(200);
}

/** The tenant's rows of `tier` written again from its raw events, with `replace` (`SELECT * REPLACE (...)`) applied to them. */
async function rewriteTierWith(db: Db, tierName: RollupTier['name'], tenantId: string, replace: string) {
  const tier = rollupTier(tierName);
  await execute(db, 'test.delete_tier', `DELETE FROM ${db.database}.${tier.table} WHERE tenant_id = {tenantId:String}`, { tenantId });
  const source = `(SELECT * REPLACE (${replace}) FROM ${db.database}.${TABLES.usageEvents} FINAL WHERE tenant_id = {tenantId:String} AND is_deleted = 0)`;
  await execute(db, 'test.write_tier', `INSERT INTO ${db.database}.${tier.table}\n${rollupSelect(tier, source)}`, { tenantId });
}

const everything = { sinceMs: 0 };
const staleOf = async (db: Db, tenantId: string) => (await staleWindows(db, everything)).filter((w) => w.tenantId === tenantId);
const dayCheck = TIER_CHECKS.find((c) => c.name === 'day')!;
const driftedDaysOf = async (db: Db, tenantId: string) =>
  (await driftedWindows(db, everything, dayCheck, KEPT_FOREVER, clockOffsetMs)).filter((w) => w.tenantId === tenantId);

/** A new tenant with the events above, reconciled: every tier exact. */
async function exactTenant() {
  const { deps } = await engine();
  const t = await newTenant();
  const H = hourStart();
  await sendEvents(t, H);
  await reconcileRollups(deps.db, { settleMs: 0, clockOffsetMs });
  expect(await staleOf(deps.db, t.tenantId)).toEqual([]);
  expect(await driftedDaysOf(deps.db, t.tenantId)).toEqual([]);
  return { db: deps.db, t, H };
}

// One change each; the window's count and sum stay equal in every case.
const CHANGES: { name: string; replace: string; eventsDifference: number }[] = [
  {
    name: 'a customer’s least quantity',
    replace: "multiIf(event_id = 'b', toDecimal128('1.5', 9), event_id = 'e', toDecimal128('2.5', 9), quantity) AS quantity",
    eventsDifference: 0,
  },
  {
    name: 'a customer’s greatest quantity',
    replace: "multiIf(event_id = 'd', toDecimal128('4.5', 9), event_id = 'e', toDecimal128('3.5', 9), quantity) AS quantity",
    eventsDifference: 0,
  },
  {
    name: 'a customer’s latest quantity (two events’ times swapped)',
    replace: "multiIf(event_id = 'a', timestamp - toIntervalSecond(1500), event_id = 'e', timestamp + toIntervalSecond(1500), timestamp) AS timestamp",
    eventsDifference: 0,
  },
  { name: 'an event’s dimensions', replace: "if(event_id = 'a', map('region', 'us'), dimensions) AS dimensions", eventsDifference: 0 },
  { name: 'the customer an event is counted for', replace: "if(event_id = 'f', 'c1', customer_id) AS customer_id", eventsDifference: 2 },
];

describe('the hour tier against raw events', () => {
  for (const change of CHANGES) {
    it(`finds an hour where only ${change.name} differs, with the events counted differently per customer, and the run makes it exact`, async () => {
      const { db, t, H } = await exactTenant();
      await rewriteTierWith(db, 'hour', t.tenantId, change.replace);
      expect(await staleOf(db, t.tenantId)).toEqual([{ tenantId: t.tenantId, metricName: METRIC, hourMs: H, eventsDifference: change.eventsDifference }]);
      const run = await reconcileRollups(db, { settleMs: 0, clockOffsetMs });
      expect(run.rewritten).toBeGreaterThanOrEqual(1);
      expect(await staleOf(db, t.tenantId)).toEqual([]);
    });
  }

  it('counts an event stored twice in the hour tier once per copy', async () => {
    const { db, t, H } = await exactTenant();
    const tier = rollupTier('hour');
    const select = rollupSelect(tier, `${db.database}.${TABLES.usageEvents} FINAL`, "tenant_id = {tenantId:String} AND event_id IN ('a', 'f')");
    await execute(db, 'test.count_twice', `INSERT INTO ${db.database}.${tier.table}\n${select}`, { tenantId: t.tenantId });
    expect(await staleOf(db, t.tenantId)).toEqual([{ tenantId: t.tenantId, metricName: METRIC, hourMs: H, eventsDifference: 2 }]);
  });
});

describe('the day tier against the hour tier', () => {
  for (const change of CHANGES) {
    it(`finds a day where only ${change.name} differs, and the run rewrites it`, async () => {
      const { db, t, H } = await exactTenant();
      await rewriteTierWith(db, 'day', t.tenantId, change.replace);
      expect(await driftedDaysOf(db, t.tenantId)).toEqual([{ tenantId: t.tenantId, metricName: METRIC, startMs: H - (H % DAY_MS) }]);
      expect(await staleOf(db, t.tenantId)).toEqual([]); // the hour tier is still exact
      const run = await reconcileRollups(db, { settleMs: 0, clockOffsetMs });
      expect(run.daysRewritten).toBeGreaterThanOrEqual(1);
      expect(await driftedDaysOf(db, t.tenantId)).toEqual([]);
    });
  }
});
