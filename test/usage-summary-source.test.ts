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

  // The rows pass through unparsed, so the statement itself refuses a count a JSON number cannot carry (2^53):
  // the read fails loudly instead of answering a rounded count.
  const rollupRow = (customerId: string, events: string) => ({
    tenant_id: t.tenantId,
    metric_name: 'summary.test',
    customer_id: customerId,
    dimensions: {},
    window_start: day / 1000,
    events,
    quantity_sum: '1',
    quantity_min: '1',
    quantity_max: '1',
  });
  await insertRows(r.deps.db, 'test.rollup_row', TABLES.usagePerDay, [rollupRow('c7', '9007199254740991'), rollupRow('c8', '9007199254740992')]);
  const refused = await t.json('GET', `/v1/usage/summary?from=${day}&to=${day + DAY}&metricName=summary.test`);
  expect(refused.status).toBe(500); // not 503: storage is fine, and a retry fails the same way
  expect(refused.body.error.code).toBe('internal');
  // One below the limit is carried exactly; other customers' reads are unaffected.
  const fits = await t.json('GET', `/v1/usage/summary?from=${day}&to=${day + DAY}&metricName=summary.test&customerId=c7`);
  expect(fits.body.data).toEqual([{ customerId: 'c7', metricName: 'summary.test', quantity: '1', events: 2 ** 53 - 1 }]);
  expect((await t.json('GET', `/v1/usage/summary?from=${day}&to=${day + DAY}&metricName=summary.test&customerId=c9`)).body.data).toEqual([
    { customerId: 'c9', metricName: 'summary.test', quantity: '7', events: 1 },
  ]);
});

it('writes the rows as the engine serialises them: any identifier reads back exactly, counts are JSON numbers, pages chain', async () => {
  await engine();
  const t = await newTenant();
  const hourAgo = now() - 3_600_000;
  const ids = ['a/b', 'quote"back\\slash', 'é-ünï', '😀 emoji', '<script>', 'line\u2028sep', 'zz'];
  const events = ids.map((customerId, i) => ({ eventId: `odd${i}`, customerId, metricName: 'odd.ids', timestamp: hourAgo, quantity: '1.000000001' }));
  const sent = await t.json('POST', '/v1/events', { body: events });
  expect(sent.status, JSON.stringify(sent.body)).toBe(200);
  expect(sent.body.accepted).toBe(ids.length);
  const window = `from=${hourAgo - DAY}&to=${hourAgo + 1}&metricName=odd.ids`;
  const all = await t.json('GET', `/v1/usage/summary?${window}`);
  expect(all.status).toBe(200);
  const expected = [...ids]
    .sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)))
    .map((customerId) => ({ customerId, metricName: 'odd.ids', quantity: '1.000000001', events: 1 }));
  expect(all.body.data).toEqual(expected);
  expect(all.body.nextCursor).toBeNull();
  // Pages of three: the same rows, each once, in order, the last page without a cursor.
  const pages: unknown[] = [];
  let cursor: string | null = null;
  for (let i = 0; i < 10; i++) {
    const page: { status: number; body: { data: unknown[]; nextCursor: string | null } } = await t.json(
      'GET',
      `/v1/usage/summary?${window}&limit=3${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
    );
    expect(page.status).toBe(200);
    expect(page.body.data.length).toBeLessThanOrEqual(3);
    pages.push(...page.body.data);
    cursor = page.body.nextCursor;
    if (!cursor) break;
  }
  expect(pages).toEqual(expected);
  // No rows: an empty page.
  const none = await t.json('GET', `/v1/usage/summary?${window}&customerId=nobody`);
  expect(none.body).toEqual({ data: [], meta: { source: 'usage_events', rawWindows: 0 }, nextCursor: null });
});
