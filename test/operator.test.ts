import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ALL_TIME, OPERATOR_KEY, engine, newTenant } from './harness.js';
import { now } from './clock.js';
import { waitFor } from './wait.js';
import { createAccess, resolveCaller } from '../access/access.js';
import { OperatorCredentials } from '../access/operator.js';
import { defaultTenantLimits } from '../api/config.js';
import { migrate } from '../sql/migrations.js';
import { TABLES } from '../sql/names.js';
import { execute, type Db } from '../sql/query.js';

/** The operator: tenants created, listed, renamed, disabled and enabled again, with the first admin key shown once. */
const op = async (method: string, path: string, body?: unknown) => {
  const { app } = await engine();
  const res = await app.request(path, {
    method,
    headers: { authorization: `Bearer ${OPERATOR_KEY}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as any };
};
const as = async (key: string, method: string, path: string, body?: unknown) => {
  const { app } = await engine();
  const res = await app.request(path, {
    method,
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as any };
};
const newId = () => `acme-${randomUUID().slice(0, 8)}`;

describe('operator: tenants', () => {
  it('creates a tenant with its first admin key, shown once; the key works in that tenant only', async () => {
    const tenantId = newId();
    const created = await op('POST', '/v1/operator/tenants', { tenantId, name: 'Acme production' });
    expect(created.status).toBe(201);
    expect(created.body).toEqual({ tenantId, name: 'Acme production', adminKey: expect.stringMatching(/^mh_/) });
    const { adminKey } = created.body;
    const keys = await as(adminKey, 'GET', '/v1/api-keys');
    expect(keys.body.data).toEqual([expect.objectContaining({ name: 'first admin', scopes: ['admin'], role: 'admin' })]);
    expect(JSON.stringify(keys.body)).not.toContain(adminKey);
    expect((await as(adminKey, 'POST', '/v1/events', { eventId: 'e1', customerId: 'c', metricName: 'm', timestamp: now() })).status).toBe(200);
    expect((await op('POST', '/v1/operator/tenants', { tenantId, name: 'again' })).body.error.code).toBe('tenant_exists');
    // the operator lists it, and a tenant admin cannot
    const list = await op('GET', '/v1/operator/tenants');
    expect(list.body.data.find((t: any) => t.tenantId === tenantId)).toMatchObject({ name: 'Acme production', disabled: false });
    expect(list.body.data.map((t: any) => t.tenantId)).toContain('default');
    expect((await as(adminKey, 'GET', '/v1/operator/tenants')).status).toBe(403);
  });

  it('validates tenant ids, names and changes', async () => {
    for (const tenantId of ['', 'Acme', 'a b', '../x', '-lead', 'x'.repeat(64), 'é']) {
      const res = await op('POST', '/v1/operator/tenants', { tenantId, name: 'n' });
      expect(res.status, JSON.stringify(tenantId)).toBe(400);
      expect(res.body.error.details.map((d: any) => d.path)).toEqual(['tenantId']);
    }
    expect((await op('POST', '/v1/operator/tenants', { tenantId: 'x'.repeat(63), name: 'longest id' })).status).toBe(201);
    for (const name of ['', 'bell\u0007', 'n'.repeat(201)]) expect((await op('POST', '/v1/operator/tenants', { tenantId: newId(), name })).status).toBe(400);
    expect((await op('POST', '/v1/operator/tenants', { tenantId: newId(), name: 'n', admin: true })).status).toBe(400);
    const tenantId = newId();
    await op('POST', '/v1/operator/tenants', { tenantId, name: 'n' });
    expect((await op('PATCH', `/v1/operator/tenants/${tenantId}`, { limits: { concurrentReads: 0 } })).status).toBe(400);
    expect((await op('PATCH', `/v1/operator/tenants/${tenantId}`, { limits: { burst: 5 } })).status).toBe(400);
    expect((await op('PATCH', `/v1/operator/tenants/${newId()}`, { name: 'x' })).status).toBe(404);
    const renamed = await op('PATCH', `/v1/operator/tenants/${tenantId}`, { name: 'Renamed' });
    expect(renamed.body).toMatchObject({ tenantId, name: 'Renamed', disabled: false });
  });

  it('disables a tenant: 403 tenant_disabled on every route, data kept, enabled again', async () => {
    const t = await newTenant();
    expect((await t.json('POST', '/v1/events', { body: { eventId: 'kept', customerId: 'c', metricName: 'm', timestamp: now() } })).status).toBe(200);
    expect((await op('PATCH', `/v1/operator/tenants/${t.tenantId}`, { disabled: true })).body.disabled).toBe(true);
    const { app } = await engine();
    // routes, not middleware (app.use / app.on on a wildcard path)
    const tenantRoutes = app.routes.filter(
      (r) => r.method !== 'ALL' && !r.path.endsWith('/*') && r.path.startsWith('/v1/') && !r.path.startsWith('/v1/operator/'),
    );
    expect(tenantRoutes.length).toBeGreaterThan(15);
    for (const r of tenantRoutes) {
      const res = await t.json(
        r.method,
        r.path.replace(/:[^/]+/g, 'x'),
        r.method === 'GET' ? {} : { raw: '{}', headers: { 'content-type': 'application/json' } },
      );
      expect(res.status, `${r.method} ${r.path}`).toBe(403);
      expect(res.body.error.code).toBe('tenant_disabled');
    }
    expect((await op('GET', '/v1/operator/tenants')).body.data.find((x: any) => x.tenantId === t.tenantId).disabled).toBe(true);
    await op('PATCH', `/v1/operator/tenants/${t.tenantId}`, { disabled: false });
    const events = await t.json('GET', `/v1/events?${ALL_TIME}`);
    expect(events.status).toBe(200);
    expect(events.body.data.map((e: any) => e.eventId)).toEqual(['kept']);
  });

  it('another process sees a disable within its cache period, this one at once', async () => {
    const r = await engine();
    const t = await newTenant();
    const other = createAccess(r.deps.db, { cacheSeconds: 1, defaultLimits: defaultTenantLimits(r.deps.config) });
    const disabledThere = async () => {
      const caller = await resolveCaller(other, t.adminKey);
      return caller?.kind === 'tenant' && caller.tenant?.disabled === true;
    };
    expect(await disabledThere()).toBe(false);
    await op('PATCH', `/v1/operator/tenants/${t.tenantId}`, { disabled: true });
    expect((await t.json('GET', '/v1/api-keys')).status).toBe(403);
    expect(await disabledThere()).toBe(false); // still cached there
    const took = await waitFor('the other process to see the disable', disabledThere, 5_000);
    expect(took).toBeLessThan(3_000);
  });

  it('generates an operator key on first start when none is configured, stored hashed, and not again', async () => {
    const db: Db = { client: (await engine()).deps.db.client, database: `operator_${randomUUID().slice(0, 8)}` };
    await migrate(db);
    const credentials = new OperatorCredentials(db, 0);
    const { createdSecret } = await credentials.bootstrap(undefined);
    expect(createdSecret).toMatch(/^mho_/);
    expect(await credentials.authenticate(createdSecret!)).toBe(true);
    expect(await credentials.authenticate(`${createdSecret}x`)).toBe(false);
    expect(await credentials.bootstrap(undefined)).toEqual({});
    const rs = await db.client.query({ query: `SELECT * FROM ${db.database}.${TABLES.operatorKeys}`, format: 'JSONEachRow' });
    const dump = JSON.stringify(await rs.json());
    expect(dump).not.toContain(createdSecret);
    expect(dump).toMatch(/[0-9a-f]{64}/);
    await execute(db, 'test.drop', `DROP DATABASE ${db.database}`);
  });
});
