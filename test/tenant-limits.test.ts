import { describe, expect, it } from 'vitest';
import { ALL_TIME, OPERATOR_KEY, engine, newTenant } from './harness.js';
import { now } from './clock.js';
import { defaultTenantLimits } from '../api/config.js';

/** Per-tenant limits: defaults from config, overridden by the operator, enforced (429) and visible. */
const setLimits = async (tenantId: string, limits: Record<string, number | null>) => {
  const { app } = await engine();
  const res = await app.request(`/v1/operator/tenants/${tenantId}`, {
    method: 'PATCH',
    headers: { authorization: `Bearer ${OPERATOR_KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({ limits }),
  });
  expect(res.status).toBe(200);
  return (await res.json()) as any;
};
const events = (prefix: string, n: number) =>
  Array.from({ length: n }, (_, i) => ({ eventId: `${prefix}-${i}`, customerId: 'c', metricName: 'm', timestamp: now() }));

describe('per-tenant limits', () => {
  it('shows each tenant its effective limits: the configured defaults, overridden by the operator, and back', async () => {
    const r = await engine();
    const t = await newTenant();
    const defaults = defaultTenantLimits(r.deps.config);
    const changed = await setLimits(t.tenantId, { readMaxExecutionSeconds: 7, concurrentReads: 3 });
    expect(changed.limits).toEqual({
      ingestEventsPerSecond: null,
      concurrentReads: 3,
      readMaxExecutionSeconds: 7,
      readMaxRowsToRead: null,
      readMaxMemoryBytes: null,
      sqlMaxExecutionSeconds: null,
      sqlMaxRowsToRead: null,
      sqlMaxBytesToRead: null,
      sqlMaxMemoryBytes: null,
      sqlMaxResultRows: null,
      sqlConcurrentQueries: null,
    });
    expect(changed.effectiveLimits).toEqual({ ...defaults, concurrentReads: 3, readMaxExecutionSeconds: 7 });
    // what a read of this tenant is bounded by (the engine limits of its queries)
    expect(await r.deps.access.tenants.limitsFor(t.tenantId)).toEqual({ ...defaults, concurrentReads: 3, readMaxExecutionSeconds: 7 });
    const listed = await (await r.app.request('/v1/operator/tenants', { headers: { authorization: `Bearer ${OPERATOR_KEY}` } })).json();
    expect(listed.data.find((x: any) => x.tenantId === t.tenantId).effectiveLimits).toEqual(changed.effectiveLimits);
    expect((await setLimits(t.tenantId, { readMaxExecutionSeconds: null })).effectiveLimits).toEqual({ ...defaults, concurrentReads: 3 });
  });

  it('ingest: a tenant past its events per second gets 429 with Retry-After, nothing of that request stored; others are not slowed', async () => {
    const t = await newTenant();
    const other = await newTenant();
    await setLimits(t.tenantId, { ingestEventsPerSecond: 1 });
    // a full bucket admits one batch larger than a second's worth; the tenant then owes 99 s
    expect((await t.json('POST', '/v1/events', { body: events('a', 100) })).status).toBe(200);
    const refused = await t.json('POST', '/v1/events', { body: events('b', 1) });
    expect(refused.status).toBe(429);
    expect(refused.body.error.code).toBe('ingest_rate_limited');
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(90);
    expect((await other.json('POST', '/v1/events', { body: events('b', 100) })).status).toBe(200);
    const stored = await t.json('GET', `/v1/usage/summary?${ALL_TIME}`);
    expect(stored.body.data).toEqual([{ customerId: 'c', metricName: 'm', quantity: '100', events: 100 }]);
    // the operator raises the limit: the tenant sends again
    await setLimits(t.tenantId, { ingestEventsPerSecond: 1_000_000 });
    expect((await t.json('POST', '/v1/events', { body: events('b', 1) })).status).toBe(200);
  });

  it("reads: past the tenant's concurrent reads a read gets 429; writes and other tenants are not held", async () => {
    const r = await engine();
    const t = await newTenant();
    const other = await newTenant();
    await setLimits(t.tenantId, { concurrentReads: 1 });
    const release = r.deps.access.readSlots.acquire(t.tenantId, 1); // one read of this tenant in progress
    try {
      const refused = await t.json('GET', `/v1/events?${ALL_TIME}`);
      expect(refused.status).toBe(429);
      expect(refused.body.error.code).toBe('too_many_concurrent_reads');
      expect(refused.headers.get('retry-after')).toBe('1');
      expect((await t.json('POST', '/v1/events', { body: events('w', 1) })).status).toBe(200);
      expect((await other.json('GET', `/v1/events?${ALL_TIME}`)).status).toBe(200);
    } finally {
      release();
    }
    expect((await t.json('GET', `/v1/events?${ALL_TIME}`)).status).toBe(200);
    // requests that overlap: with one slot, some of five parallel reads are refused, and every slot comes back
    const statuses = (await Promise.all(Array.from({ length: 5 }, () => t.request('GET', `/v1/usage/summary?${ALL_TIME}`)))).map((res) => res.status);
    expect(statuses).toContain(200);
    expect(statuses.every((s) => s === 200 || s === 429)).toBe(true);
    expect(r.deps.access.readSlots.inProgress(t.tenantId)).toBe(0);
  });

  it("reads: a tenant's own rows-to-read bound stops its reads only, naming the limit", async () => {
    const [a, b] = [await newTenant(), await newTenant()];
    for (const t of [a, b]) expect((await t.json('POST', '/v1/events', { body: events('r', 3000) })).status).toBe(200);
    await setLimits(a.tenantId, { readMaxRowsToRead: 1000 });
    const refused = await a.json('GET', `/v1/usage/summary?${ALL_TIME}`);
    expect(refused.status).toBe(422);
    expect(refused.body.error).toMatchObject({ code: 'read_limit_exceeded', details: { limit: 'READ_MAX_ROWS_TO_READ' } });
    const answered = await b.json('GET', `/v1/usage/summary?${ALL_TIME}`);
    expect(answered.status).toBe(200);
    expect(answered.body.data[0].events).toBe(3000);
    await setLimits(a.tenantId, { readMaxRowsToRead: null });
    expect((await a.json('GET', `/v1/usage/summary?${ALL_TIME}`)).status).toBe(200);
  });
});
