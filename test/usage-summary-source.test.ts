import { expect, it } from 'vitest';
import { now } from './clock.js';
import { engine, newTenant } from './harness.js';
import { TABLES } from '../sql/names.js';
import { insertRows } from '../sql/query.js';
import { reconcileRollups } from '../jobs/reconcile-rollups.js';
import { redeliver } from './redeliver.js';

const DAY = 86_400_000;

it('the summary reads reconciled windows from the rollup and the rest from raw events, exact either way, and says which', async () => {
  const r = await engine();
  const t = await newTenant();
  const twoDaysAgo = now() - 2 * DAY; // one reading of the clock: two could fall in different milliseconds
  const day = twoDaysAgo - (twoDaysAgo % DAY); // a whole UTC day, two days back
  const events = Array.from({ length: 12 }, (_, i) => ({
    eventId: `s${i}`,
    customerId: `c${i % 2}`,
    metricName: 'summary.test',
    timestamp: day + i * 3_600_000,
    quantity: '0.25',
  }));
  expect((await t.json('POST', '/v1/events', { body: events })).body.accepted).toBe(12);
  const summary = async (from: number, to: number) => (await t.json('GET', `/v1/usage/summary?from=${from}&to=${to}&metricName=summary.test`)).body;
  const expected = [
    { customerId: 'c0', metricName: 'summary.test', quantity: '1.5', events: 6 },
    { customerId: 'c1', metricName: 'summary.test', quantity: '1.5', events: 6 },
  ];

  // Not reconciled yet: the day is read from raw events.
  let s = await summary(day, day + DAY);
  expect(s.data).toEqual(expected);
  expect(s.meta).toEqual({ source: 'usage_per_day+usage_events', rawWindows: 1 });
  // Per customer: only the hours holding that customer's unreconciled rows are raw (c0's are the even hours).
  const c0 = await t.json('GET', `/v1/usage/summary?from=${day}&to=${day + 23 * 3_600_000}&metricName=summary.test&customerId=c0`);
  expect(c0.body.meta).toEqual({ source: 'usage_per_hour+usage_events', rawWindows: 6 });
  expect(c0.body.data).toEqual([expected[0]]);

  // A redelivery that bypasses the writer (as from Kafka): the rollup MVs count it twice, the summary does not.
  const e = events[0]!;
  await redeliver(r.deps.db, t.tenantId, [e]);
  expect((await summary(day, day + DAY)).data).toEqual(expected);

  // Reconciled (a watermark past every stored row): the day and its hours come from the rollups, still exact.
  await reconcileRollups(r.deps.db, { nowMs: Date.now() + 10 * 60_000 });
  s = await summary(day, day + DAY);
  expect(s.data).toEqual(expected);
  expect(s.meta).toEqual({ source: 'usage_per_day+usage_events', rawWindows: 0 });
  const hours = await summary(day + 3_600_000, day + 5 * 3_600_000);
  expect(hours.meta).toEqual({ source: 'usage_per_hour+usage_events', rawWindows: 0 });
  expect(hours.data).toEqual([
    { customerId: 'c0', metricName: 'summary.test', quantity: '0.5', events: 2 },
    { customerId: 'c1', metricName: 'summary.test', quantity: '0.5', events: 2 },
  ]);
  // A window that is not a whole number of hours is raw.
  expect((await summary(day + 1, day + DAY)).meta).toEqual({ source: 'usage_events', rawWindows: 0 });

  // Proof that a reconciled window is read from the rollup: a row written into the day rollup alone shows.
  await insertRows(r.deps.db, 'test.rollup_row', TABLES.usagePerDay, [
    {
      tenant_id: t.tenantId,
      metric_name: 'summary.test',
      customer_id: 'c9',
      dimensions: {},
      window_start: day / 1000,
      events: 1,
      quantity_sum: '7',
      quantity_min: '7',
      quantity_max: '7',
    },
  ]);
  expect((await summary(day, day + DAY)).data.at(-1)).toEqual({ customerId: 'c9', metricName: 'summary.test', quantity: '7', events: 1 });
});
