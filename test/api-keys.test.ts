import { describe, expect, it } from 'vitest';
import { engine, newTenant } from './harness.js';
import { TABLES } from '../sql/names.js';

describe('API keys', () => {
  it('admin creates a key that works once, lists keys without secrets, and revokes it', async () => {
    const t = await newTenant();
    const created = await t.json('POST', '/v1/api-keys', { body: { name: 'ingest service' } });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      id: expect.stringMatching(/^key_/),
      name: 'ingest service',
      role: 'standard',
      revokedAt: null,
      key: expect.stringMatching(/^mh_/),
    });
    const key: string = created.body.key;

    const send = await t.json('POST', '/v1/events', { key, body: { eventId: 'k1', customerId: 'c', metricName: 'm' } });
    expect(send.status).toBe(200);

    const list = await t.json('GET', '/v1/api-keys');
    expect(list.body.data.map((k: any) => k.name).sort()).toEqual(['ingest service', 'test admin']);
    expect(JSON.stringify(list.body)).not.toContain(key);

    const revoked = await t.json('DELETE', `/v1/api-keys/${created.body.id}`);
    expect(revoked.status).toBe(200);
    expect(revoked.body.revokedAt).toEqual(expect.any(String));
    const after = await t.json('POST', '/v1/events', { key, body: { eventId: 'k2', customerId: 'c', metricName: 'm' } });
    expect(after.status).toBe(401);
  });

  it('stores only hashes of secrets', async () => {
    const t = await newTenant();
    const { db } = (await engine()).deps;
    const rs = await db.client.query({
      query: `SELECT * FROM ${db.database}.${TABLES.apiKeys} WHERE tenant_id = {t:String}`,
      query_params: { t: t.tenantId },
      format: 'JSONEachRow',
    });
    const dump = JSON.stringify(await rs.json());
    expect(dump).not.toContain(t.adminKey);
    expect(dump).toMatch(/[0-9a-f]{64}/);
  });

  it('needs an admin key to manage keys (403), and scopes every key to its tenant', async () => {
    const t = await newTenant();
    const other = await newTenant();
    const standard = (await t.json('POST', '/v1/api-keys', { body: { name: 'reader', role: 'standard' } })).body;
    expect((await t.json('POST', '/v1/api-keys', { key: standard.key, body: { name: 'x' } })).status).toBe(403);
    expect((await t.json('GET', '/v1/api-keys', { key: standard.key })).status).toBe(403);
    // another tenant's admin cannot see or revoke this tenant's key
    expect((await other.json('DELETE', `/v1/api-keys/${standard.id}`)).status).toBe(404);
    expect((await t.json('POST', '/v1/events', { key: standard.key, body: { eventId: 'z', customerId: 'c', metricName: 'm' } })).status).toBe(200);
  });

  it('refuses to revoke the last active admin key (409)', async () => {
    const t = await newTenant();
    const [admin] = (await t.json('GET', '/v1/api-keys')).body.data;
    const res = await t.json('DELETE', `/v1/api-keys/${admin.id}`);
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe('last_admin_key');
    const second = (await t.json('POST', '/v1/api-keys', { body: { name: 'admin 2', role: 'admin' } })).body;
    expect((await t.json('DELETE', `/v1/api-keys/${admin.id}`)).status).toBe(200);
    expect((await t.json('GET', '/v1/api-keys', { key: second.key })).status).toBe(200);
  });

  it('creates a key with the scopes asked for, shown as a role where they amount to one', async () => {
    const t = await newTenant();
    const made = await t.json('POST', '/v1/api-keys', { body: { name: 'dashboards', scopes: ['usage:read', 'billing:read', 'usage:read'] } });
    expect(made.status).toBe(201);
    expect(made.body).toMatchObject({ scopes: ['usage:read', 'billing:read'], role: null });
    expect((await t.json('POST', '/v1/api-keys', { body: { name: 'svc', scopes: ['billing:read', 'events:write', 'usage:read'] } })).body.role).toBe(
      'standard',
    );
    expect((await t.json('GET', '/v1/usage/summary?from=0&to=1', { key: made.body.key })).status).toBe(200);
    expect((await t.json('POST', '/v1/events', { key: made.body.key, body: { eventId: 'x', customerId: 'c', metricName: 'm' } })).status).toBe(403);
    for (const body of [
      { name: 'x', scopes: [] },
      { name: 'x', scopes: ['operator'] },
      { name: 'x', scopes: ['root'] },
      { name: 'x', scopes: ['admin'], role: 'admin' },
    ]) {
      expect((await t.json('POST', '/v1/api-keys', { body })).status, JSON.stringify(body)).toBe(400);
    }
  });

  it('validates the body of a new key', async () => {
    const t = await newTenant();
    const bad = await t.json('POST', '/v1/api-keys', { body: { name: '', role: 'root' } });
    expect(bad.status).toBe(400);
    expect(bad.body.error.details.map((d: any) => d.path).sort()).toEqual(['name', 'role']);
  });
});
