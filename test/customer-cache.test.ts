import { describe, expect, it } from 'vitest';
import { engine, newTenant, type TestTenant } from './harness.js';
import { waitFor } from './wait.js';
import { issueLink } from './portal-fixture.js';
import { createRule } from './alerts-fixture.js';
import { createApp } from '../api/app.js';
import { CustomerCache } from '../api/customer-cache.js';

/** Another instance of the API over the same engine: its own customer cache, as a second process would have. */
async function instance(t: TestTenant, cacheSeconds: number) {
  const r = await engine();
  const app = createApp({ ...r.deps, customers: new CustomerCache(r.deps.db, cacheSeconds) });
  const call = async (method: string, path: string, key: string, body?: unknown) => {
    const headers: Record<string, string> = { authorization: `Bearer ${key}` };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await app.request(path, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
    return { status: res.status, body: (await res.json().catch(() => null)) as any };
  };
  return {
    put: async (body: unknown) => (await call('PUT', '/v1/customers/acme', t.adminKey, body)).status,
    /** The allowance the dashboard's alert progress uses for the meter `calls` (GET /v1/portal/alerts). */
    allowance: async (token: string) => {
      const res = await call('GET', '/v1/portal/alerts', token);
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      return res.body.data.find((m: { meterKey: string }) => m.meterKey === 'calls')?.rules[0]?.allowance as string | undefined;
    },
    /** What the customer's dashboard shows of its record (GET /v1/portal/customer). */
    shown: async (token: string) => {
      const res = await call('GET', '/v1/portal/customer', token);
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      return { name: res.body.customer.name, timezone: res.body.customer.timezone };
    },
  };
}

const BERLIN = { name: 'Acme', timezone: 'Europe/Berlin', billingCycle: { interval: 'month', anchorDay: 1 } };

describe("customer records on the dashboards' calls", () => {
  it('change at once through the instance that saved them, a customer without a record included', async () => {
    const t = await newTenant();
    const api = await instance(t, 3600);
    const { token } = await issueLink(t, { customerId: 'acme' });
    // No record yet: the default cycle, and that answer is cached.
    expect(await api.shown(token)).toEqual({ name: '', timezone: 'UTC' });
    expect(await api.put(BERLIN)).toBe(201);
    expect(await api.shown(token)).toEqual({ name: 'Acme', timezone: 'Europe/Berlin' });
    expect(await api.put({ name: 'Acme Inc', timezone: 'Asia/Tokyo' })).toBe(200);
    expect(await api.shown(token)).toEqual({ name: 'Acme Inc', timezone: 'Asia/Tokyo' });
  });

  it("change in another instance's calls within its cache period, not at once", async () => {
    const t = await newTenant();
    const reader = await instance(t, 2);
    const changer = await instance(t, 2);
    expect(await changer.put(BERLIN)).toBe(201);
    const { token } = await issueLink(t, { customerId: 'acme' });
    expect(await reader.shown(token)).toEqual({ name: 'Acme', timezone: 'Europe/Berlin' });
    expect(await changer.put({ timezone: 'Asia/Tokyo' })).toBe(200);
    expect(await changer.shown(token)).toEqual({ name: 'Acme', timezone: 'Asia/Tokyo' });
    // The reader still has the record it read: the cache is what answered.
    expect(await reader.shown(token)).toEqual({ name: 'Acme', timezone: 'Europe/Berlin' });
    await waitFor('the other instance to read the new record', async () => (await reader.shown(token)).timezone === 'Asia/Tokyo', 10_000);
  });

  it('are read for every call with a cache period of 0', async () => {
    const t = await newTenant();
    const reader = await instance(t, 0);
    const changer = await instance(t, 3600);
    expect(await changer.put(BERLIN)).toBe(201);
    const { token } = await issueLink(t, { customerId: 'acme' });
    expect(await reader.shown(token)).toEqual({ name: 'Acme', timezone: 'Europe/Berlin' });
    expect(await changer.put({ timezone: 'Asia/Tokyo' })).toBe(200);
    expect(await reader.shown(token)).toEqual({ name: 'Acme', timezone: 'Asia/Tokyo' });
  });

  it("an allowance saved through this instance holds at once in the dashboard's alert progress", async () => {
    const t = await newTenant();
    const api = await instance(t, 3600);
    expect((await t.json('POST', '/v1/meters', { body: { key: 'calls', metricName: 'api.calls', aggregation: 'SUM' } })).status).toBe(201);
    await createRule(t, { meterKey: 'calls', unit: 'percent', thresholds: ['50'], window: 'period' });
    expect(await api.put({ ...BERLIN, allowances: { calls: '200' } })).toBe(201);
    const { token } = await issueLink(t, { customerId: 'acme' });
    expect(await api.allowance(token)).toBe('200');
    expect(await api.put({ allowances: { calls: '400.5' } })).toBe(200);
    expect(await api.allowance(token)).toBe('400.5');
  });
});
