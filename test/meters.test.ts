import { describe, expect, it } from 'vitest';
import { engine, newTenant } from './harness.js';
import { ROLLUP_TIERS, rollupSelect } from '../sql/datasets/rollups.js';
import { TABLES } from '../sql/names.js';
import { applyRollupRetention, ttlAfter } from '../sql/retention.js';
import { insertRows } from '../sql/query.js';
import { testClock } from './clock.js';

const meter = { key: 'api-calls', metricName: 'api.calls', aggregation: 'SUM', groupBy: ['region', 'tier'] };

describe('meter definitions', () => {
  it('creates, lists, reads, changes and deletes meters', async () => {
    const t = await newTenant();
    const created = await t.json('POST', '/v1/meters', { body: meter });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ ...meter, filter: {}, billable: true, createdAt: expect.any(String) });
    expect((await t.json('POST', '/v1/meters', { body: meter })).status).toBe(409);
    expect((await t.json('GET', '/v1/meters')).body.data.map((m: any) => m.key)).toEqual(['api-calls']);
    const patched = await t.json('PATCH', '/v1/meters/api-calls', { body: { aggregation: 'MAX', filter: { region: ['eu'] } } });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ key: 'api-calls', aggregation: 'MAX', filter: { region: ['eu'] }, createdAt: created.body.createdAt });
    expect((await t.json('GET', '/v1/meters/api-calls')).body.aggregation).toBe('MAX');
    expect((await t.json('PATCH', '/v1/meters/api-calls', { body: { key: 'other' } })).status).toBe(400);
    expect((await t.request('DELETE', '/v1/meters/api-calls')).status).toBe(204);
    expect((await t.json('GET', '/v1/meters/api-calls')).status).toBe(404);
    expect((await t.json('GET', '/v1/meters')).body.data).toEqual([]);
  });

  it('validates definitions with a reason per field', async () => {
    const t = await newTenant();
    const bad = await t.json('POST', '/v1/meters', { body: { key: 'Bad Key', metricName: 'x', aggregation: 'UNIQUE_COUNT' } });
    expect(bad.status).toBe(400);
    expect(bad.body.error.details.map((d: any) => d.path).sort()).toEqual(['key', 'uniqueDimension']);
    expect((await t.json('POST', '/v1/meters', { body: { ...meter, aggregation: 'MEDIAN' } })).status).toBe(400);
    expect((await t.json('POST', '/v1/meters', { body: { ...meter, surprise: 1 } })).status).toBe(400);
    expect((await t.json('PATCH', '/v1/meters/nope', { body: { aggregation: 'SUM' } })).status).toBe(404);
  });

  it('lets standard keys read meters but not define them, and keeps tenants apart', async () => {
    const t = await newTenant();
    const other = await newTenant();
    await t.json('POST', '/v1/meters', { body: meter });
    const standard = (await t.json('POST', '/v1/api-keys', { body: { name: 'reader' } })).body.key;
    expect((await t.json('GET', '/v1/meters/api-calls', { key: standard })).status).toBe(200);
    expect((await t.json('POST', '/v1/meters', { key: standard, body: { ...meter, key: 'x' } })).status).toBe(403);
    expect((await t.json('DELETE', '/v1/meters/api-calls', { key: standard })).status).toBe(403);
    expect((await other.json('GET', '/v1/meters/api-calls')).status).toBe(404);
    expect((await other.json('GET', '/v1/meters')).body.data).toEqual([]);
  });
});

describe('GET /v1/meters/{key}/usage', () => {
  const T = Date.UTC(2026, 9, 1);
  async function seeded() {
    const t = await newTenant();
    await t.json('POST', '/v1/events', {
      body: [
        { eventId: '1', customerId: 'a', metricName: 'api.calls', timestamp: T, quantity: '1.5', dimensions: { region: 'eu', tier: 'pro' } },
        { eventId: '2', customerId: 'a', metricName: 'api.calls', timestamp: T + 3_600_000, quantity: '2', dimensions: { region: 'us', tier: 'pro' } },
        { eventId: '3', customerId: 'b', metricName: 'api.calls', timestamp: T + 2 * 86_400_000, quantity: '4', dimensions: { region: 'eu', tier: 'free' } },
        { eventId: '4', customerId: 'b', metricName: 'other', timestamp: T, quantity: '100', dimensions: { region: 'eu' } },
      ],
    });
    // defined after its events arrived: it answers for them at once
    await t.json('POST', '/v1/meters', { body: meter });
    return t;
  }
  const range = `from=${T}&to=${T + 3 * 86_400_000}`;

  it('fills empty windows and sums exactly', async () => {
    const t = await seeded();
    const res = await t.json('GET', `/v1/meters/api-calls/usage?${range}&granularity=day`);
    expect(res.body.data).toEqual([
      { windowStart: '2026-10-01T00:00:00.000Z', windowEnd: '2026-10-02T00:00:00.000Z', value: '3.5' },
      { windowStart: '2026-10-02T00:00:00.000Z', windowEnd: '2026-10-03T00:00:00.000Z', value: '0' },
      { windowStart: '2026-10-03T00:00:00.000Z', windowEnd: '2026-10-04T00:00:00.000Z', value: '4' },
    ]);
    expect(res.body.meta).toEqual({ source: 'usage_per_day', windows: 3 });
  });

  it('groups by customerId or an allowed dimension, and filters by meter and query', async () => {
    const t = await seeded();
    const byCustomer = await t.json('GET', `/v1/meters/api-calls/usage?${range}&granularity=total&groupBy=customerId`);
    expect(byCustomer.body.data.map((r: any) => [r.customerId, r.value])).toEqual([
      ['a', '3.5'],
      ['b', '4'],
    ]);
    const byRegion = await t.json('GET', `/v1/meters/api-calls/usage?${range}&granularity=total&groupBy=region`);
    expect(byRegion.body.data.map((r: any) => [r.groupBy.region, r.value])).toEqual([
      ['eu', '5.5'],
      ['us', '2'],
    ]);
    const filtered = await t.json('GET', `/v1/meters/api-calls/usage?${range}&granularity=total&filter[tier]=pro`);
    expect(filtered.body.data[0].value).toBe('3.5');
    const either = await t.json('GET', `/v1/meters/api-calls/usage?${range}&granularity=total&filter[tier]=pro&filter[tier]=free&customerId=b`);
    expect(either.body.data[0].value).toBe('4');
    await t.json('PATCH', '/v1/meters/api-calls', { body: { filter: { region: ['us'] } } });
    expect((await t.json('GET', `/v1/meters/api-calls/usage?${range}&granularity=total`)).body.data[0].value).toBe('2');
    const notAllowed = await t.json('GET', `/v1/meters/api-calls/usage?${range}&groupBy=plan`);
    expect(notAllowed.status).toBe(400);
    expect(notAllowed.body.error.message).toMatch(/not allowed/);
    // a filter on a dimension the meter does not name is refused the same way, never answered with zeros
    const unknownFilter = await t.json('GET', `/v1/meters/api-calls/usage?${range}&granularity=total&filter[plan]=gold`);
    expect(unknownFilter.status).toBe(400);
    expect(unknownFilter.body.error.message).toBe(
      'filter[plan]: "plan" is not a dimension of meter "api-calls" (its dimensions: region, tier; add it to the meter\'s groupBy to filter on it)',
    );
  });

  it('answers CSV on Accept: text/csv', async () => {
    const t = await seeded();
    const res = await t.request('GET', `/v1/meters/api-calls/usage?${range}&granularity=total&groupBy=customerId`, { headers: { accept: 'text/csv' } });
    expect(res.headers.get('content-type')).toMatch(/^text\/csv/);
    expect(await res.text()).toBe(
      'windowStart,windowEnd,customerId,value\n' +
        '2026-10-01T00:00:00.000Z,2026-10-04T00:00:00.000Z,a,3.5\n' +
        '2026-10-01T00:00:00.000Z,2026-10-04T00:00:00.000Z,b,4\n',
    );
  });

  it('rejects bad zones, windows and too many windows', async () => {
    const t = await seeded();
    expect((await t.json('GET', `/v1/meters/api-calls/usage?${range}&tz=Mars/Olympus`)).status).toBe(400);
    expect((await t.json('GET', `/v1/meters/api-calls/usage?from=${T}&to=${T}`)).status).toBe(400);
    const many = await t.json('GET', `/v1/meters/api-calls/usage?from=2020-01-01T00:00:00Z&to=2026-01-01T00:00:00Z&granularity=minute`);
    expect(many.status).toBe(400);
    expect(many.body.error.code).toBe('too_many_windows');
    expect((await t.json('GET', `/v1/meters/nope/usage?${range}`)).status).toBe(404);
  });
});

describe('rollup tables', () => {
  it("each MV SELECT yields its target table's columns in order (MVs write positionally)", async () => {
    const { db } = (await engine()).deps;
    for (const tier of ROLLUP_TIERS) {
      const describe = async (query: string) =>
        (await (await db.client.query({ query, format: 'JSONEachRow' })).json<{ name: string; type: string }>()).map((c) => `${c.name} ${c.type}`);
      const target = await describe(`DESCRIBE TABLE ${db.database}.${tier.table}`);
      const produced = await describe(`DESCRIBE (${rollupSelect(tier, `${db.database}.${TABLES.usageEvents}`)})`);
      expect(produced.map((c) => c.split(' ')[0])).toEqual(target.map((c) => c.split(' ')[0]));
    }
  });

  it('applies retention per tier as a TTL, and removes it for 0', async () => {
    const { db } = (await engine()).deps;
    const ddl = async (table: string) =>
      (
        await (
          await db.client.query({
            query: `SELECT create_table_query AS q FROM system.tables WHERE database = {d:String} AND name = {t:String}`,
            query_params: { d: db.database, t: table },
            format: 'JSONEachRow',
          })
        ).json<{ q: string }>()
      )[0]!.q;
    const offset = testClock.offsetMs;
    expect(await ddl(TABLES.usagePerMinute)).toContain(`TTL ${ttlAfter('window_start', 14, offset)}`);
    expect(await applyRollupRetention(db, { minute: 7, hour: 400, day: 0 }, undefined, offset)).toEqual([TABLES.usagePerMinute]);
    expect(await ddl(TABLES.usagePerMinute)).toContain(`TTL ${ttlAfter('window_start', 7, offset)}`);
    expect(await applyRollupRetention(db, { minute: 7, hour: 400, day: 0 }, undefined, offset)).toEqual([]);
    await applyRollupRetention(db, { minute: 0, hour: 400, day: 0 }, undefined, offset);
    expect(await ddl(TABLES.usagePerMinute)).not.toMatch(/TTL/);
    expect(await ddl(TABLES.usagePerDay)).not.toMatch(/TTL/);
  });

  it("a tier's view writes no window its retention would delete (a backfill costs it nothing), on the product's clock", async () => {
    const { db } = (await engine()).deps;
    const offset = testClock.offsetMs;
    const HOUR = 3_600_000;
    // One reading of the clock: two could fall on either side of an hour boundary.
    const now = testClock.now();
    const at = now - (now % HOUR) - HOUR;
    const tenant = `ret_${Date.now()}`;
    const rowAt = (id: string, timestamp: number) => ({
      tenant_id: tenant,
      event_id: id,
      customer_id: 'c',
      metric_name: 'm',
      timestamp,
      quantity: '2',
      ingested_at: timestamp,
    });
    const windows = async (table: string) =>
      (
        await (
          await db.client.query({
            query: `SELECT toUnixTimestamp(window_start) * 1000 AS w FROM ${db.database}.${table} WHERE tenant_id = {t:String} ORDER BY w`,
            query_params: { t: tenant },
            format: 'JSONEachRow',
          })
        ).json<{ w: string }>()
      ).map((r) => Number(r.w));
    try {
      await applyRollupRetention(db, { minute: 7, hour: 400, day: 0 }, undefined, offset);
      // 8 days old (beyond the minute tier's 7), 6 days old, an hour old: each its own minute.
      const [old, recent, fresh] = [at - 8 * 24 * HOUR, at - 6 * 24 * HOUR, at];
      await insertRows(db, 'test.insert', TABLES.usageEvents, [rowAt('old', old), rowAt('recent', recent), rowAt('fresh', fresh)]);
      expect(await windows(TABLES.usagePerMinute)).toEqual([recent, fresh]);
      expect(await windows(TABLES.usagePerHour)).toEqual([old, recent, fresh]);
      // Retention 0 keeps every window again.
      expect(await applyRollupRetention(db, { minute: 0, hour: 400, day: 0 }, undefined, offset)).toEqual([TABLES.usagePerMinute]);
      await insertRows(db, 'test.insert', TABLES.usageEvents, [rowAt('old2', old + 60_000)]);
      expect(await windows(TABLES.usagePerMinute)).toEqual([old + 60_000, recent, fresh]);
    } finally {
      await applyRollupRetention(db, { minute: 14, hour: 400, day: 0 }, undefined, offset);
    }
  });
});
