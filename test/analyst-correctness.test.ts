import { beforeAll, describe, expect, it } from 'vitest';
import { now } from './clock.js';
import { engine } from './harness.js';
import { reconcileRollups } from '../jobs/reconcile-rollups.js';
import type { LoggedOp } from './billing-oracle.js';
import { GRACE_MS, clockPast, generateEvents, send, setUpTenant } from './billing-fixture.js';
import { analystTenant, type AnalystTenant } from './analyst-fixture.js';
import { redeliver } from './redeliver.js';

const DAY = 86_400_000;
const NINES = '99999999999999999999999999999'; // 29 integer digits: the largest quantity the event contract accepts

beforeAll(async () => {
  await engine({ BILLING_CUTOFF_LAG_MS: '0', BILLING_GRACE_SECONDS: String(GRACE_MS / 1000) });
});

/**
 * What analysts get equals what the API gives on the same data: duplicates
 * (through the API and written below it, as a Kafka redelivery would),
 * amendments, voids, and sums past Decimal(38, 9).
 */
describe('analyst SQL agrees with the API', () => {
  let t: AnalystTenant;
  const today = Math.floor(now() / DAY) * DAY;
  const from = today - 120 * DAY;
  const to = today + DAY;
  const window = { from: String(from), to: String(to) };

  beforeAll(async () => {
    t = await analystTenant();
    await setUpTenant(t);
    const log: LoggedOp[] = [];
    const events = generateEvents('q', 400, 5, now());
    await send(t, log, events);
    expect(
      (
        await t.json('POST', '/v1/events', {
          body: events.slice(0, 20).map(({ eventId, customerId, metricName, timestamp }) => ({ eventId, customerId, metricName, timestamp, quantity: '999' })),
        })
      ).body.duplicates,
    ).toBe(20);
    const { db } = (await engine()).deps;
    await redeliver(db, t.tenantId, events.slice(20, 40));
    for (const e of events.slice(40, 45)) expect((await t.json('POST', `/v1/events/${e.eventId}/amend`, { body: { quantity: '12.5' } })).status).toBe(200);
    for (const e of events.slice(45, 50)) expect((await t.json('POST', `/v1/events/${e.eventId}/void`)).status).toBe(200);
    const huge = [1, 2, 3].map((i) => ({ eventId: `huge-${i}`, customerId: 'c-huge', metricName: 'huge', timestamp: now() - i * 60_000, quantity: NINES }));
    expect((await t.json('POST', '/v1/events', { body: huge })).status).toBe(200);
    await clockPast(log);
    expect((await t.json('POST', '/v1/billing/close')).status).toBe(200);
    // Meters read the rollups, which count a redelivery or a correction until the reconciler has rewritten the window (its schedule in production).
    await reconcileRollups(db, { settleMs: 0 });
  }, 180_000);

  const sql = async (query: string) => {
    const res = await t.sql({ query, params: window });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.truncated).toBe(false);
    return res.body.data as Record<string, string>[];
  };
  const IN_WINDOW =
    "timestamp >= fromUnixTimestamp64Milli(toInt64({from:String}), 'UTC') AND timestamp < fromUnixTimestamp64Milli(toInt64({to:String}), 'UTC')";

  it('usage summary: sum and count per customer and metric, also past Decimal(38, 9)', async () => {
    const api = (await t.json('GET', `/v1/usage/summary?from=${from}&to=${to}&limit=1000`)).body.data as {
      customerId: string;
      metricName: string;
      quantity: string;
      events: number;
    }[];
    const rows = await sql(
      `SELECT customer_id, toString(metric_name) AS metric, toString(sum(quantity)) AS quantity, count() AS events FROM events WHERE ${IN_WINDOW} GROUP BY customer_id, metric ORDER BY customer_id, metric`,
    );
    expect(rows.map((r) => ({ customerId: r.customer_id, metricName: r.metric, quantity: r.quantity, events: Number(r.events) }))).toEqual(api);
    expect(api.find((r) => r.metricName === 'huge')?.quantity).toBe('299999999999999999999999999997');
  });

  it('meters: SUM and COUNT per customer over the window, from events and from the reconciled day rollup', async () => {
    for (const [key, aggregate] of [
      ['calls', 'toString(sum(quantity))'],
      ['calls-count', 'toString(count())'],
    ] as const) {
      const api = (await t.json('GET', `/v1/meters/${key}/usage?from=${from}&to=${to}&granularity=total&groupBy=customerId`)).body.data as {
        customerId: string;
        value: string;
      }[];
      const rows = await sql(
        `SELECT customer_id, ${aggregate} AS value FROM events WHERE metric_name = 'api.calls' AND ${IN_WINDOW} GROUP BY customer_id ORDER BY customer_id`,
      );
      expect(
        rows.map((r) => [r.customer_id, r.value]),
        key,
      ).toEqual(api.filter((r) => String(r.value) !== '0').map((r) => [r.customerId, String(r.value)]));
    }
    // The reconciled day rollup gives the same sums.
    const sums = (await t.json('GET', `/v1/meters/calls/usage?from=${from}&to=${to}&granularity=total&groupBy=customerId`)).body.data as {
      customerId: string;
      value: string;
    }[];
    const rollup = await sql(
      `SELECT customer_id, toString(sum(quantity_sum)) AS value FROM usage_day WHERE metric_name = 'api.calls' AND window_start >= toDateTime(intDiv(toInt64({from:String}), 1000), 'UTC') AND window_start < toDateTime(intDiv(toInt64({to:String}), 1000), 'UTC') GROUP BY customer_id ORDER BY customer_id`,
    );
    expect(rollup.map((r) => [r.customer_id, r.value])).toEqual(sums.filter((r) => r.value !== '0').map((r) => [r.customerId, r.value]));
  });

  it('exports: every line of every export', async () => {
    const feed = (await t.json('GET', '/v1/billing/exports')).body.data as { id: string; sequence: number }[];
    expect(feed.length).toBeGreaterThan(0);
    const api = [];
    for (const e of feed) {
      const lines = (await t.json('GET', `/v1/billing/exports/${e.id}`)).body.lines as Record<string, unknown>[];
      api.push(...lines.map((l) => ({ sequence: e.sequence, ...l })));
    }
    const key = (l: any) => JSON.stringify([l.sequence, l.customerId, l.meterKey, l.periodStart, l.kind]);
    const rows = await sql(
      'SELECT sequence, customer_id, meter_key, period_start, period_end, toString(kind) AS kind, toString(value) AS value, events FROM billing_export_lines',
    );
    const mine = rows.map((r) => ({
      sequence: Number(r.sequence),
      customerId: r.customer_id,
      meterKey: r.meter_key,
      periodStart: r.period_start,
      periodEnd: r.period_end,
      kind: r.kind,
      value: r.value,
      events: Number(r.events),
    }));
    expect(mine.sort((x, y) => (key(x) < key(y) ? -1 : 1))).toEqual(api.sort((x, y) => (key(x) < key(y) ? -1 : 1)));
    const exports = await sql('SELECT sequence, line_count FROM billing_exports ORDER BY sequence');
    expect(exports.map((r) => Number(r.sequence))).toEqual(feed.map((e) => e.sequence).sort((x, y) => x - y));
  });

  it('customers and meters: what the admin API lists', async () => {
    const customers = (await t.json('GET', '/v1/customers?limit=1000')).body.data as { customerId: string; timezone: string }[];
    expect(await sql('SELECT customer_id, timezone FROM customers ORDER BY customer_id')).toEqual(
      customers.map((c) => ({ customer_id: c.customerId, timezone: c.timezone })),
    );
    const meters = (await t.json('GET', '/v1/meters')).body.data as { key: string }[];
    expect((await sql('SELECT meter_key FROM meters ORDER BY meter_key')).map((r) => r.meter_key)).toEqual(meters.map((m) => m.key).sort());
  });
});
