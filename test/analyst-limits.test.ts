import { beforeAll, describe, expect, it } from 'vitest';
import { OPERATOR_KEY, engine } from './harness.js';
import { waitFor } from './wait.js';
import { analystTenant, type AnalystTenant } from './analyst-fixture.js';

async function operatorSets(tenantId: string, limits: Record<string, number | null>) {
  const r = await engine();
  const res = await r.app.request(`/v1/operator/tenants/${tenantId}`, {
    method: 'PATCH',
    headers: { authorization: `Bearer ${OPERATOR_KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({ limits }),
  });
  expect(res.status, await res.clone().text()).toBe(200);
  return (await res.json()) as { effectiveLimits: Record<string, number> };
}

const LONG = 'SELECT count() FROM numbers_mt(100000000000) WHERE cityHash64(number) % 7 = 3';

describe('analyst SQL limits, per tenant, set by the operator', () => {
  let t: AnalystTenant;
  beforeAll(async () => {
    t = await analystTenant();
  });

  it('defaults come from configuration: 30 s, 100,000 result rows, 2 queries at once', async () => {
    const r = await engine();
    const tenant = await r.deps.access.tenants.limitsFor(t.tenantId);
    expect(tenant).toMatchObject({ sqlMaxExecutionSeconds: 30, sqlMaxResultRows: 100_000, sqlConcurrentQueries: 2 });
  });

  it('stops a query at the engine time the operator set (422 naming the limit)', async () => {
    const { effectiveLimits } = await operatorSets(t.tenantId, { sqlMaxExecutionSeconds: 1, sqlMaxRowsToRead: 1e12, sqlMaxBytesToRead: 1024 ** 5 });
    expect(effectiveLimits.sqlMaxExecutionSeconds).toBe(1);
    try {
      const res = await t.sql({ query: LONG });
      expect(res.status, JSON.stringify(res.body)).toBe(422);
      expect(res.body.error).toMatchObject({ code: 'sql_limit_exceeded', details: { limit: 'sqlMaxExecutionSeconds', value: 1 } });
    } finally {
      await operatorSets(t.tenantId, { sqlMaxExecutionSeconds: null, sqlMaxRowsToRead: null, sqlMaxBytesToRead: null });
    }
  });

  it('stops a query at the rows, bytes and memory the operator set', async () => {
    const cases: [Record<string, number>, string, string][] = [
      [{ sqlMaxRowsToRead: 1000 }, 'SELECT sum(number) FROM numbers(100000)', 'sqlMaxRowsToRead'],
      [{ sqlMaxBytesToRead: 1024 ** 2 }, 'SELECT sum(number) FROM numbers(10000000)', 'sqlMaxBytesToRead'],
      [{ sqlMaxMemoryBytes: 16 * 1024 ** 2 }, 'SELECT length(groupArray(number)) FROM numbers(50000000)', 'sqlMaxMemoryBytes'],
    ];
    for (const [limits, query, limit] of cases) {
      await operatorSets(t.tenantId, limits);
      try {
        const res = await t.sql({ query });
        expect(res.status, JSON.stringify(res.body)).toBe(422);
        expect(res.body.error.details, query).toMatchObject({ limit, value: Object.values(limits)[0] });
      } finally {
        await operatorSets(t.tenantId, Object.fromEntries(Object.keys(limits).map((k) => [k, null])));
      }
    }
  });

  it("answers 429 past the tenant's concurrent queries; other tenants are not affected", async () => {
    await operatorSets(t.tenantId, { sqlConcurrentQueries: 1, sqlMaxExecutionSeconds: 2, sqlMaxRowsToRead: 1e12, sqlMaxBytesToRead: 1024 ** 5 });
    try {
      const r = await engine();
      // Created before the long query starts: creating a tenant is itself engine work that would queue behind it.
      const other = await analystTenant();
      const running = t.sql({ query: LONG });
      await waitFor('the first query to be admitted', () => r.deps.sql.inProgress(t.tenantId) === 1, 10_000);
      const refused = await t.sql({ query: 'SELECT 1 AS one' });
      expect(refused.status).toBe(429);
      expect(refused.body.error.code).toBe('too_many_concurrent_queries');
      expect(refused.headers.get('retry-after')).toBe('1');
      const answer = await other.sql({ query: 'SELECT 1 AS one' });
      expect(answer.body.data, JSON.stringify(answer.body)).toEqual([{ one: 1 }]);
      expect((await running).status).toBe(422);
    } finally {
      await operatorSets(t.tenantId, { sqlConcurrentQueries: null, sqlMaxExecutionSeconds: null, sqlMaxRowsToRead: null, sqlMaxBytesToRead: null });
    }
  });

  it('refuses an operator value out of range', async () => {
    const r = await engine();
    const res = await r.app.request(`/v1/operator/tenants/${t.tenantId}`, {
      method: 'PATCH',
      headers: { authorization: `Bearer ${OPERATOR_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ limits: { sqlConcurrentQueries: 0 } }),
    });
    expect(res.status).toBe(400);
  });
});
