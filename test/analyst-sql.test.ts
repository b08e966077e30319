import { beforeAll, describe, expect, it } from 'vitest';
import { now } from './clock.js';
import { engine, type TestTenant } from './harness.js';
import { analystTenant, type AnalystTenant } from './analyst-fixture.js';
import { VIRTUAL_TABLES } from '../analyst/virtual-schema.js';
import { analystDatabase } from '../sql/datasets/analyst.js';

const HOUR = 3_600_000;
const H = Math.floor((now() - 30 * HOUR) / HOUR) * HOUR;

/** Both tenants send the same event ids and customer ids: only the caller's own may come back. */
async function seed(t: TestTenant, scale: number) {
  const events = [1, 2, 3, 4].map((i) => ({
    eventId: `e${i}`,
    customerId: `c${i % 2}`,
    metricName: 'calls',
    timestamp: H + i * 60_000,
    quantity: String(i * scale),
    dimensions: { region: i % 2 ? 'eu' : 'us' },
  }));
  expect((await t.json('POST', '/v1/events', { body: events })).status).toBe(200);
  // A redelivery (acknowledged as a duplicate), an amendment and a void.
  expect((await t.json('POST', '/v1/events', { body: [events[0]] })).status).toBe(200);
  expect((await t.json('POST', '/v1/events/e2/amend', { body: { quantity: String(100 * scale) } })).status).toBe(200);
  expect((await t.json('POST', '/v1/events/e3/void')).status).toBe(200);
}

describe('analyst SQL', () => {
  let a: AnalystTenant;
  let b: AnalystTenant;
  beforeAll(async () => {
    a = await analystTenant();
    b = await analystTenant();
    await seed(a, 1);
    await seed(b, 1000);
  });

  it("answers a SELECT over the tenant's own events only, with columns, types and statistics", async () => {
    const res = await a.sql({ query: 'SELECT event_id, customer_id, quantity FROM events ORDER BY event_id' });
    expect(res.status).toBe(200);
    expect(res.body.columns).toEqual([
      { name: 'event_id', type: 'String' },
      { name: 'customer_id', type: 'String' },
      { name: 'quantity', type: 'Decimal(76, 9)' },
    ]);
    expect(res.body.data).toEqual([
      { event_id: 'e1', customer_id: 'c1', quantity: '1' },
      { event_id: 'e2', customer_id: 'c0', quantity: '100' },
      { event_id: 'e4', customer_id: 'c0', quantity: '4' },
    ]);
    expect(res.body).toMatchObject({
      rows: 3,
      truncated: false,
      statistics: { elapsedMs: expect.any(Number), rowsRead: expect.any(Number), bytesRead: expect.any(Number) },
    });
    expect(res.body.statistics.rowsRead).toBeGreaterThan(0);
  });

  it('binds parameters, never splices them', async () => {
    const res = await a.sql({
      query: 'SELECT count() AS n FROM events WHERE customer_id = {c:String} OR event_id IN {ids:Array(String)}',
      params: { c: "c1' OR 1=1 --", ids: ['e4'] },
    });
    expect(res.status).toBe(200);
    expect(res.body.data).toEqual([{ n: '1' }]);
  });

  it('keeps every version in event_versions, with who changed it', async () => {
    const res = await a.sql({
      query:
        "SELECT event_id, toString(quantity) AS q, is_deleted, changed_by != '' AS corrected FROM event_versions WHERE event_id IN ('e1', 'e2', 'e3') ORDER BY event_id, version",
    });
    expect(res.body.data).toEqual([
      { event_id: 'e1', q: '1', is_deleted: 0, corrected: 0 },
      { event_id: 'e2', q: '2', is_deleted: 0, corrected: 0 },
      { event_id: 'e2', q: '100', is_deleted: 0, corrected: 1 },
      { event_id: 'e3', q: '3', is_deleted: 0, corrected: 0 },
      { event_id: 'e3', q: '3', is_deleted: 1, corrected: 1 },
    ]);
  });

  it("truncates a json answer at the tenant's result rows and says so; a streamed format longer than it fails instead", async () => {
    const r = await engine();
    await r.deps.access.tenants.update(a.tenantId, { limits: { sqlMaxResultRows: 5 } });
    try {
      const json = await a.sql({ query: 'SELECT number FROM numbers(10)' });
      expect(json.body).toMatchObject({ rows: 5, truncated: true });
      const exact = await a.request('POST', '/v1/sql', { body: { query: 'SELECT number FROM numbers(5)', format: 'csv' }, key: a.sqlKey });
      expect(exact.status).toBe(200);
      expect(await exact.text()).toBe('"number"\n0\n1\n2\n3\n4\n');
      const over = await a.sql({ query: 'SELECT number FROM numbers(6)', format: 'csv' });
      expect(over.status).toBe(422);
      expect(over.body.error).toMatchObject({ code: 'sql_limit_exceeded', details: { limit: 'sqlMaxResultRows', value: 5 } });
    } finally {
      await r.deps.access.tenants.update(a.tenantId, { limits: { sqlMaxResultRows: null } });
    }
  });

  it("counts a streamed answer's rows against the limit, not the rows its query scanned", async () => {
    const r = await engine();
    await r.deps.access.tenants.update(a.tenantId, { limits: { sqlMaxResultRows: 3 } });
    try {
      // Without ORDER BY (a sort kept the check above the filter): the engine had pushed the row check down into
      // the query's WHERE, numbered the rows before the filter and refused these.
      const lines = async (res: Response) => (await res.text()).split('\n').filter(Boolean).sort();
      // 1,000 numbers scanned, 3 rows answered.
      const filtered = await a.request('POST', '/v1/sql', {
        body: { query: 'SELECT number FROM numbers(1000) WHERE number % 400 = 0', format: 'csv' },
        key: a.sqlKey,
      });
      expect(filtered.status, await filtered.clone().text()).toBe(200);
      expect(await lines(filtered)).toEqual(['"number"', '0', '400', '800']);
      // The tenant's 3 events, read from storage that also holds the other tenant's rows and earlier versions.
      const own = await a.request('POST', '/v1/sql', { body: { query: 'SELECT event_id FROM events', format: 'jsonl' }, key: a.sqlKey });
      expect(own.status, await own.clone().text()).toBe(200);
      expect(await lines(own)).toEqual(['{"event_id":"e1"}', '{"event_id":"e2"}', '{"event_id":"e4"}']);
      const parquet = await a.request('POST', '/v1/sql', {
        body: { query: 'SELECT number FROM numbers(1000) WHERE number % 400 = 0', format: 'parquet' },
        key: a.sqlKey,
      });
      expect(parquet.status).toBe(200);
      const over = await a.sql({ query: 'SELECT number FROM numbers(1000) WHERE number % 300 = 0', format: 'jsonl' });
      expect(over.status).toBe(422);
      expect(over.body.error).toMatchObject({ code: 'sql_limit_exceeded', details: { limit: 'sqlMaxResultRows', value: 3 } });
    } finally {
      await r.deps.access.tenants.update(a.tenantId, { limits: { sqlMaxResultRows: null } });
    }
  });

  it('streams csv, jsonl and parquet as the engine writes them', async () => {
    const csv = await a.request('POST', '/v1/sql', {
      body: { query: 'SELECT event_id, quantity FROM events ORDER BY event_id', format: 'csv' },
      key: a.sqlKey,
    });
    expect(csv.headers.get('content-type')).toMatch(/^text\/csv/);
    expect(await csv.text()).toBe('"event_id","quantity"\n"e1",1\n"e2",100\n"e4",4\n');
    const jsonl = await a.request('POST', '/v1/sql', { body: { query: 'SELECT event_id FROM events ORDER BY event_id', format: 'jsonl' }, key: a.sqlKey });
    expect(await jsonl.text()).toBe('{"event_id":"e1"}\n{"event_id":"e2"}\n{"event_id":"e4"}\n');
    const parquet = await a.request('POST', '/v1/sql', { body: { query: 'SELECT event_id FROM events', format: 'parquet' }, key: a.sqlKey });
    const bytes = Buffer.from(await parquet.arrayBuffer());
    expect(bytes.subarray(0, 4).toString()).toBe('PAR1');
  });

  it('documents every virtual table at GET /v1/sql/schema, with the types the engine gives', async () => {
    const res = await a.json('GET', '/v1/sql/schema', { key: a.sqlKey });
    expect(res.status).toBe(200);
    expect(res.body.tables.map((t: any) => t.name)).toEqual([
      'events',
      'event_versions',
      'usage_minute',
      'usage_hour',
      'usage_day',
      'customers',
      'meters',
      'billing_exports',
      'billing_export_lines',
      'dead_letters',
    ]);
    const r = await engine();
    for (const table of VIRTUAL_TABLES) {
      const described = await r.deps.db.client.query({
        query: `DESCRIBE (${table.body(r.deps.db.database)})`,
        query_params: { mh_tenant: a.tenantId },
        format: 'JSONEachRow',
      });
      const columns = (await described.json<{ name: string; type: string }>()).map(({ name, type }) => ({ name, type }));
      expect(columns, table.name).toEqual(table.columns.map(({ name, type }) => ({ name, type })));
      for (const c of table.columns) expect(c.description.length, `${table.name}.${c.name}`).toBeGreaterThan(3);
    }
  });

  it('runs on connections whose current database is the empty analyst database', async () => {
    const r = await engine();
    for (const client of r.connection.analystClients) {
      const [row] = await (
        await client.query({
          query: 'SELECT currentDatabase() AS db, (SELECT count() FROM system.tables WHERE database = currentDatabase()) AS n',
          format: 'JSONEachRow',
        })
      ).json<{ db: string; n: string }>();
      expect(row).toEqual({ db: analystDatabase(r.deps.db.database), n: '0' });
    }
  });

  it('needs the sql scope', async () => {
    const r = await engine();
    const { secret } = await r.deps.access.keys.create(a.tenantId, 'reader', ['usage:read']);
    const res = await a.json('POST', '/v1/sql', { body: { query: 'SELECT 1' }, key: secret });
    expect(res.status).toBe(403);
  });
});
