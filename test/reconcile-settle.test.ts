import { afterAll, expect, it } from 'vitest';
import { now, testClock } from './clock.js';
import { closeEngine, engine, newTenant } from './harness.js';
import { TABLES } from '../sql/names.js';
import { insertRows } from '../sql/query.js';
import { reconcileRollups } from '../jobs/reconcile-rollups.js';

afterAll(closeEngine);

// An insert makes its raw rows visible before its rollup rows, so an hour still receiving rows is
// compared only once it has settled: a run leaves it alone (and does not lose it), a later run fixes it.
/** One event sent through the API and redelivered below the writer (as from Kafka): its hour's rollup counts it twice. */
async function redelivered(metricName: string, T: number) {
  const r = await engine();
  const t = await newTenant();
  const e = { eventId: `${metricName}-1`, customerId: 'c', metricName, timestamp: T, quantity: '3' };
  expect((await t.json('POST', '/v1/events', { body: [e] })).status).toBe(200);
  await t.json('POST', '/v1/meters', { body: { key: metricName, metricName, aggregation: 'SUM' } });
  const hour = T - (T % 3_600_000);
  await insertRows(r.deps.db, 'test.redeliver', TABLES.usageEvents, [
    { tenant_id: t.tenantId, event_id: e.eventId, customer_id: 'c', metric_name: metricName, timestamp: T, quantity: '3', dimensions: {}, ingested_at: T },
  ]);
  const value = async () => (await t.json('GET', `/v1/meters/${metricName}/usage?from=${hour}&to=${hour + 3_600_000}&granularity=total`)).body.data[0].value;
  expect(await value()).toBe('6');
  return { db: r.deps.db, value };
}

const clockOffsetMs = testClock.offsetMs;

it('an hour that received a row within the settle time is left to a later run, which rewrites it', async () => {
  const { db, value } = await redelivered('settle', now() - 5 * 3_600_000);

  // Its rows were stored just now: within a 60 s settle time the run compares nothing and rewrites nothing.
  const early = await reconcileRollups(db, { settleMs: 60_000, clockOffsetMs });
  expect(early).toMatchObject({ rewritten: 0, checked: 0 });
  expect(early.deferred).toBeGreaterThanOrEqual(1);
  expect(await value()).toBe('6');

  // A run 61 s later (its own clock) finds the hour settled, though the first run moved the watermark.
  const later = await reconcileRollups(db, { settleMs: 60_000, nowMs: Date.now() + 61_000, clockOffsetMs });
  expect(later.deferred).toBe(0);
  expect(later.rewritten).toBeGreaterThanOrEqual(1);
  expect(await value()).toBe('3');
});

it('a live hour (the last 2 hours of event time) is compared on every run, settled or not', async () => {
  const { db, value } = await redelivered('live', now() - 60_000);
  const run = await reconcileRollups(db, { settleMs: 60_000, clockOffsetMs });
  expect(run.rewritten).toBeGreaterThanOrEqual(1);
  expect(await value()).toBe('3');
});
