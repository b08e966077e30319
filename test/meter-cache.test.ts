import { describe, expect, it } from 'vitest';
import type { ClickHouseClient } from '@clickhouse/client';
import { engine, newTenant, type TestTenant } from './harness.js';
import { waitFor } from './wait.js';
import { createApp } from '../api/app.js';
import { MeterCache } from '../api/meter-cache.js';
import { now } from './clock.js';
import type { Db } from '../sql/query.js';

const HOUR = 3_600_000;

/** A tenant with two events of `calls` (5 and 7) and a SUM meter over them; `path` reads the meter's total over both. */
async function tenantWithMeter() {
  const t = await newTenant();
  const at = now() - 2 * HOUR;
  const events = [5, 7].map((quantity, i) => ({ eventId: `e-${i}`, customerId: 'c-1', metricName: 'calls', quantity, timestamp: at + i }));
  expect((await t.json('POST', '/v1/events', { body: events })).status).toBe(200);
  expect((await t.json('POST', '/v1/meters', { body: { key: 'calls', metricName: 'calls', aggregation: 'SUM' } })).status).toBe(201);
  const path = `/v1/meters/calls/usage?from=${at - HOUR}&to=${at + HOUR}&granularity=total`;
  return { t, path };
}

/** Another instance of the API over the same engine: its own meter cache, as a second process would have. */
async function instance(t: TestTenant, cacheSeconds: number) {
  const r = await engine();
  const app = createApp({ ...r.deps, meters: new MeterCache(r.deps.db, cacheSeconds) });
  return async (method: string, path: string, body?: unknown) => {
    const headers: Record<string, string> = { authorization: `Bearer ${t.adminKey}` };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await app.request(path, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
    return { status: res.status, body: (await res.json().catch(() => null)) as any };
  };
}

describe('meter definitions of usage reads', () => {
  it('change at once for reads through the instance that changed them (PATCH, DELETE, create again)', async () => {
    const { t, path } = await tenantWithMeter();
    const api = await instance(t, 3600);
    expect((await api('GET', path)).body.data[0].value).toBe('12');
    expect((await api('PATCH', '/v1/meters/calls', { aggregation: 'COUNT' })).status).toBe(200);
    expect((await api('GET', path)).body.data[0].value).toBe(2);
    expect((await api('DELETE', '/v1/meters/calls')).status).toBe(204);
    expect((await api('GET', path)).status).toBe(404);
    expect((await api('POST', '/v1/meters', { key: 'calls', metricName: 'calls', aggregation: 'MAX' })).status).toBe(201);
    expect((await api('GET', path)).body.data[0].value).toBe('7');
  });

  it("change in another instance's reads within its cache period, not at once", async () => {
    const { t, path } = await tenantWithMeter();
    const reader = await instance(t, 2);
    const changer = await instance(t, 2);
    expect((await reader('GET', path)).body.data[0].value).toBe('12');
    expect((await changer('PATCH', '/v1/meters/calls', { aggregation: 'COUNT' })).status).toBe(200);
    expect((await changer('GET', path)).body.data[0].value).toBe(2);
    // The reader still has the definition it read: the cache is what answered.
    expect((await reader('GET', path)).body.data[0].value).toBe('12');
    await waitFor('the other instance to read the new definition', async () => (await reader('GET', path)).body.data[0].value === 2, 10_000);
    // A meter created elsewhere after a 404 here: found within the period too.
    expect((await reader('GET', path.replace('/calls/', '/later/'))).status).toBe(404);
    expect((await changer('POST', '/v1/meters', { key: 'later', metricName: 'calls', aggregation: 'SUM' })).status).toBe(201);
    await waitFor('the other instance to find the new meter', async () => (await reader('GET', path.replace('/calls/', '/later/'))).status === 200, 10_000);
  });

  it('are read for every request with a cache period of 0', async () => {
    const { t, path } = await tenantWithMeter();
    const reader = await instance(t, 0);
    const changer = await instance(t, 3600);
    expect((await reader('GET', path)).body.data[0].value).toBe('12');
    expect((await changer('PATCH', '/v1/meters/calls', { aggregation: 'COUNT' })).status).toBe(200);
    expect((await reader('GET', path)).body.data[0].value).toBe(2);
  });

  it('are not cached from a lookup that was under way when this instance changed the meter', async () => {
    const { t } = await tenantWithMeter();
    const r = await engine();
    let lookups = 0;
    let hold: Promise<void> | undefined;
    const client = new Proxy(r.deps.db.client, {
      get(target, prop, receiver) {
        if (prop !== 'query') return Reflect.get(target, prop, receiver) as unknown;
        return async (params: Parameters<ClickHouseClient['query']>[0]) => {
          lookups++;
          const answer = await target.query(params);
          await hold;
          return answer;
        };
      },
    });
    const db: Db = { ...r.deps.db, client };
    const cache = new MeterCache(db, 3600);
    let release!: () => void;
    hold = new Promise((resolve) => (release = resolve));
    const underWay = cache.get({ tenantId: t.tenantId, key: 'calls' });
    await waitFor('the lookup to have read', () => lookups === 1, 10_000);
    // The lookup read the SUM meter and waits; this instance changes the meter meanwhile.
    expect((await t.json('PATCH', '/v1/meters/calls', { body: { aggregation: 'COUNT' } })).status).toBe(200);
    cache.forget({ tenantId: t.tenantId, key: 'calls' });
    release();
    hold = undefined;
    expect((await underWay)?.aggregation).toBe('SUM');
    expect((await cache.get({ tenantId: t.tenantId, key: 'calls' }))?.aggregation).toBe('COUNT');
    expect(lookups).toBe(2);
    // Now cached: no third lookup.
    expect((await cache.get({ tenantId: t.tenantId, key: 'calls' }))?.aggregation).toBe('COUNT');
    expect(lookups).toBe(2);
  });
});
