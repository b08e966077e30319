import { describe, expect, it } from 'vitest';
import { engine, newTenant, type TestTenant } from './harness.js';
import { createApp } from '../api/app.js';
import { ReadGate } from '../api/read-gate.js';
import { readLimits } from '../api/runtime-settings.js';
import { runQuery, type Db, type ReadLimits } from '../sql/query.js';
import { ReadLimitError } from '../sql/storage-error.js';
import { z } from 'zod';

const DAY = 86_400_000;
// Day-aligned, ten days before the instant the test runs: expectations come from the same instant.
const T = Math.floor(Date.now() / DAY) * DAY - 10 * DAY;
const range = `from=${T}&to=${T + 3 * DAY}`;

async function seed(t: TestTenant, customers: number, perCustomer = 3) {
  const events = [];
  for (let c = 0; c < customers; c++) {
    for (let d = 0; d < perCustomer; d++)
      events.push({
        eventId: `e-${c}-${d}`,
        customerId: `cust-${String(c).padStart(3, '0')}`,
        metricName: 'calls',
        quantity: 1,
        timestamp: T + d * DAY + 1000,
      });
  }
  expect((await t.json('POST', '/v1/events', { body: events })).status).toBe(200);
  expect((await t.json('POST', '/v1/meters', { body: { key: 'calls', metricName: 'calls', aggregation: 'SUM' } })).status).toBe(201);
}

/** The tenant's requests through an app whose readers run under `limits`. */
async function limitedApp(t: TestTenant, limits: Partial<ReadLimits>) {
  const r = await engine();
  const readers = r.connection.readClients.map((client) => ({ client, database: r.deps.db.database, readLimits: { ...readLimits(r.deps.config), ...limits } }));
  // Engine time, rows and memory are per-tenant bounds (the tenant's limits override the reader's): set them there too.
  const tenants = r.deps.access.tenants;
  const limitsFor = async (tenantId: string) => ({
    ...(await tenants.limitsFor(tenantId)),
    ...(limits.max_execution_time === undefined ? {} : { readMaxExecutionSeconds: limits.max_execution_time }),
    ...(limits.max_rows_to_read === undefined ? {} : { readMaxRowsToRead: limits.max_rows_to_read }),
    ...(limits.max_memory_usage === undefined ? {} : { readMaxMemoryBytes: limits.max_memory_usage }),
  });
  const access = { ...r.deps.access, tenants: Object.assign(Object.create(tenants) as typeof tenants, { limitsFor }) };
  const app = createApp({ ...r.deps, access, readGate: new ReadGate(readers, { maxQueued: 8, queueTimeoutMs: 10_000 }) });
  return async (path: string) => {
    const res = await app.request(path, { headers: { authorization: `Bearer ${t.adminKey}` } });
    return { status: res.status, body: (await res.json()) as any };
  };
}

const setting = z.object({ v: z.coerce.number() });
const settingOn = async (db: Db, name: string) =>
  (await runQuery({ client: db.client, database: db.database }, 'test.setting', `SELECT getSetting({name:String}) AS v`, { name }, setting))[0]!.v;

describe('read limits', () => {
  it('apply to each read through its own SETTINGS clause and never stick to a connection (ingest, other reads)', async () => {
    const r = await engine();
    const t = await newTenant();
    await seed(t, 2);
    const reader = await r.deps.readGate.acquire();
    try {
      // Through the limited reader, the engine sees the configured limit ...
      expect((await runQuery(reader, 'test.setting', `SELECT getSetting('max_rows_to_read') AS v`, {}, setting))[0]!.v).toBe(
        r.deps.config.READ_MAX_ROWS_TO_READ,
      );
      // ... and a plain statement on the same connection right after it does not.
      expect(await settingOn(reader, 'max_rows_to_read')).toBe(0);
      expect(await settingOn(reader, 'max_result_rows')).toBe(0);
    } finally {
      r.deps.readGate.release(reader);
    }
    expect((await t.json('GET', `/v1/usage/summary?${range}`)).status).toBe(200);
    // Ingest's connection never carries a read limit.
    for (const name of ['max_rows_to_read', 'max_result_rows', 'max_result_bytes', 'max_memory_usage', 'max_execution_time'])
      expect(await settingOn(r.deps.db, name)).toBe(0);
  });

  it('a read past its rows-to-read limit is refused with read_limit_exceeded, naming the limit and how to narrow', async () => {
    const t = await newTenant();
    await seed(t, 40);
    const get = await limitedApp(t, { max_rows_to_read: 100 });
    const res = await get(`/v1/usage/summary?${range}`);
    expect(res.status).toBe(422);
    expect(res.body.error).toMatchObject({
      code: 'read_limit_exceeded',
      details: { limit: 'READ_MAX_ROWS_TO_READ', value: 100, hint: expect.stringMatching(/from\/to/) },
    });
    const events = await get(`/v1/events?limit=1000`);
    expect(events.status).toBe(422);
  });

  it('names the result-size and memory limits', async () => {
    const t = await newTenant();
    await seed(t, 40);
    const rows = await (await limitedApp(t, { max_result_rows: 5 }))(`/v1/usage/summary?${range}`);
    expect(rows.body.error).toMatchObject({ code: 'read_limit_exceeded', details: { limit: 'READ_MAX_RESULT_ROWS', value: 5 } });
    const bytes = await (await limitedApp(t, { max_result_bytes: 100 }))(`/v1/usage/summary?${range}`);
    expect(bytes.body.error).toMatchObject({ code: 'read_limit_exceeded', details: { limit: 'READ_MAX_RESULT_BYTES', value: 100 } });
    const memory = await (await limitedApp(t, { max_memory_usage: 1000 }))(`/v1/meters/calls/usage?${range}&granularity=hour&groupBy=customerId`);
    expect(memory.body.error).toMatchObject({ code: 'read_limit_exceeded', details: { limit: 'READ_MAX_MEMORY_BYTES', value: 1000 } });
  });

  it('stops a read at its engine time limit', async () => {
    const r = await engine();
    const reader = {
      ...r.connection.readClients.map((client) => ({ client, database: r.deps.db.database }))[0]!,
      readLimits: { ...readLimits(r.deps.config), max_execution_time: 1, max_threads: 1, max_rows_to_read: 1e12 },
    };
    const started = Date.now();
    const error = await runQuery(reader, 'test.slow', 'SELECT sum(cityHash64(number)) AS v FROM numbers(100000000000)', {}, setting).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ReadLimitError);
    expect(error).toMatchObject({ limit: 'max_execution_time', value: 1 });
    expect(Date.now() - started).toBeLessThan(10_000);
  });
});

describe('grouped meter usage comes in pages of whole groups', () => {
  it('never builds more than READ_MAX_PAGE_ROWS rows, and the pages together are the whole answer', async () => {
    const t = await newTenant();
    await seed(t, 5);
    const whole = await t.json('GET', `/v1/meters/calls/usage?${range}&granularity=day&groupBy=customerId`);
    expect(whole.status).toBe(200);
    expect(whole.body.data).toHaveLength(15);
    expect(whole.body.nextCursor).toBeNull();

    const paged = await newTenantApp(t, { READ_MAX_PAGE_ROWS: 6 });
    const rows: unknown[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const res: { status: number; body: any } = await paged(
        `/v1/meters/calls/usage?${range}&granularity=day&groupBy=customerId${cursor ? `&cursor=${cursor}` : ''}`,
      );
      expect(res.status).toBe(200);
      expect(res.body.data.length).toBeLessThanOrEqual(6);
      rows.push(...res.body.data);
      cursor = res.body.nextCursor;
      pages++;
    } while (cursor && pages < 10);
    expect(pages).toBe(3);
    expect(rows).toEqual(whole.body.data);
  });

  it('refuses a cursor that does not fit the grouping', async () => {
    const t = await newTenant();
    await seed(t, 1);
    const bad = await t.json(
      'GET',
      `/v1/meters/calls/usage?${range}&granularity=day&groupBy=customerId&cursor=${Buffer.from('["a","b"]').toString('base64url')}`,
    );
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('invalid_cursor');
  });
});

async function newTenantApp(t: TestTenant, config: Record<string, number>) {
  const r = await engine();
  const app = createApp({ ...r.deps, config: { ...r.deps.config, ...config } });
  return async (path: string) => {
    const res = await app.request(path, { headers: { authorization: `Bearer ${t.adminKey}` } });
    return { status: res.status, body: (await res.json()) as any };
  };
}

describe('reads and ingest use different engine connections', () => {
  it('an insert is not queued behind a long read', async () => {
    const r = await engine();
    const t = await newTenant();
    const reader = await r.deps.readGate.acquire();
    try {
      let readDone = false;
      // Seconds of single-threaded work on the read connection.
      const read = runQuery(
        { client: reader.client, database: reader.database },
        'test.heavy',
        'SELECT sum(cityHash64(number)) AS v FROM numbers(3000000000) SETTINGS max_threads = 1',
        {},
        setting,
      )
        .catch(() => undefined)
        .finally(() => (readDone = true));
      const res = await t.json('POST', '/v1/events', { body: { eventId: 'during-read', customerId: 'c', metricName: 'm', quantity: 1 } });
      expect(res.status).toBe(200);
      expect(readDone).toBe(false);
      await read;
    } finally {
      r.deps.readGate.release(reader);
    }
  });

  it('ingest is not queued behind a parameterized read either: its identity lookup passes ids as insert data', async () => {
    const r = await engine();
    const t = await newTenant();
    // The key and tenant are resolved once (then cached), as for any caller already sending.
    expect((await t.json('POST', '/v1/events', { body: [{ eventId: 'warm-up', customerId: 'c', metricName: 'm' }] })).status).toBe(200);
    const reader = await r.deps.readGate.acquire();
    try {
      let readDone = false;
      // An API read is parameterized: chdb would run a parameterized lookup only after it.
      const read = runQuery(
        { client: reader.client, database: reader.database },
        'test.heavy_bound',
        'SELECT sum(cityHash64(number)) AS v FROM numbers({n:UInt64}) SETTINGS max_threads = 1',
        { n: 3_000_000_000 },
        setting,
      )
        .catch(() => undefined)
        .finally(() => (readDone = true));
      const first = await t.json('POST', '/v1/events', { body: [{ eventId: 'during-bound-read', customerId: 'c', metricName: 'm', quantity: 1 }] });
      const again = await t.json('POST', '/v1/events', { body: [{ eventId: 'during-bound-read', customerId: 'c', metricName: 'm', quantity: 1 }] });
      expect([first.body.accepted, again.body.duplicates]).toEqual([1, 1]);
      expect(readDone).toBe(false);
      await read;
    } finally {
      r.deps.readGate.release(reader);
    }
  }, 120_000);

  it("and a parameterized statement on ingest's connection does not wait for a parameterized read (values bound per connection)", async () => {
    // chdb's own binding ran them one at a time per process; our connections bind values per connection (sql/session-parameters.ts).
    const r = await engine();
    const reader = await r.deps.readGate.acquire();
    try {
      const order: string[] = [];
      const read = runQuery(
        { client: reader.client, database: reader.database },
        'test.heavy_bound',
        'SELECT sum(cityHash64(number)) AS v FROM numbers({n:UInt64}) SETTINGS max_threads = 1',
        { n: 1_000_000_000 },
        setting,
      ).finally(() => order.push('read'));
      await new Promise((resolve) => setTimeout(resolve, 200));
      const lookup = runQuery(r.deps.db, 'test.light_bound', 'SELECT {x:UInt8} AS v', { x: 1 }, setting).finally(() => order.push('lookup'));
      await Promise.all([read, lookup]);
      expect(order).toEqual(['lookup', 'read']);
    } finally {
      r.deps.readGate.release(reader);
    }
  });
});
