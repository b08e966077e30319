import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ALL_TIME, engine } from './harness.js';
import { MIGRATIONS, migrate } from '../sql/migrations.js';
import { TABLES } from '../sql/names.js';
import { execute, insertRows, type Db } from '../sql/query.js';
import { createApp } from '../api/app.js';
import { createAccess } from '../access/access.js';
import { hashKey } from '../access/keys.js';
import { ROLE_SCOPES } from '../access/scopes.js';
import { defaultTenantLimits } from '../api/config.js';

/**
 * Migrations 12 and 13 on a database as the previous version left it: keys
 * with roles and no scopes, tenants without state. The old admin and standard
 * keys keep doing exactly what they did, as their scope sets.
 */
const SCOPED = 12;

describe('migrations 12 and 13 on an existing database', () => {
  it('turns stored roles into their scope sets, keeps tenants enabled with default limits, and is idempotent', async () => {
    const r = await engine();
    const db: Db = { client: r.deps.db.client, database: `access_up_${randomUUID().slice(0, 8)}` };
    expect(await migrate(db, { upTo: SCOPED - 1 })).toEqual(MIGRATIONS.filter((m) => m.version < SCOPED).map((m) => m.version));

    // Rows exactly as the previous version wrote them (api/keys.ts before scopes).
    const [adminSecret, standardSecret, revokedSecret] = ['mh_old-admin', 'mh_old-standard', 'mh_old-revoked'];
    const at = Date.now();
    await insertRows(db, 'test.old_tenant', TABLES.tenants, [{ tenant_id: 'old', name: 'Old tenant', created_at: at, version: at }]);
    const key = (key_id: string, secret: string, role: string, revoked_at: number | null = null) => ({
      tenant_id: 'old',
      key_id,
      key_hash: hashKey(secret),
      name: key_id,
      role,
      created_at: at,
      revoked_at,
      version: at,
    });
    await insertRows(db, 'test.old_keys', TABLES.apiKeys, [
      key('k_admin', adminSecret, 'admin'),
      key('k_standard', standardSecret, 'standard'),
      key('k_revoked', revokedSecret, 'admin', at),
    ]);

    // 12 and 13, and any later migration (the app below needs the current schema)
    expect(await migrate(db)).toEqual(MIGRATIONS.filter((m) => m.version >= SCOPED).map((m) => m.version));
    const access = createAccess(db, { cacheSeconds: 0, defaultLimits: defaultTenantLimits(r.deps.config) });
    const resolved = async () => [
      await access.keys.authenticate(adminSecret),
      await access.keys.authenticate(standardSecret),
      await access.keys.authenticate(revokedSecret),
    ];
    const expected = [
      { tenantId: 'old', keyId: 'k_admin', scopes: ['admin'] },
      { tenantId: 'old', keyId: 'k_standard', scopes: [...ROLE_SCOPES.standard] },
      undefined,
    ];
    expect(await resolved()).toEqual(expected);
    expect(await access.tenants.get('old')).toMatchObject({
      name: 'Old tenant',
      disabled: false,
      limits: { ingestEventsPerSecond: null, concurrentReads: null },
      effectiveLimits: defaultTenantLimits(r.deps.config),
    });

    // Over HTTP, the standard key does what it did before (send events, read usage and exports) and nothing more.
    const app = createApp({ ...r.deps, db, access });
    const as = (secret: string, method: string, path: string, body?: unknown) =>
      app.request(path, {
        method,
        headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    expect((await as(standardSecret, 'GET', `/v1/usage/summary?${ALL_TIME}`)).status).toBe(200);
    expect((await as(standardSecret, 'GET', '/v1/billing/exports')).status).toBe(200);
    expect((await as(standardSecret, 'GET', '/v1/api-keys')).status).toBe(403);
    expect((await as(standardSecret, 'POST', '/v1/meters', { key: 'm', metricName: 'm', aggregation: 'COUNT' })).status).toBe(403);
    const listed = await (await as(adminSecret, 'GET', '/v1/api-keys')).json();
    expect(listed.data.map((k: any) => [k.id, k.role, k.scopes])).toEqual([
      ['k_admin', 'admin', ['admin']],
      ['k_revoked', 'admin', ['admin']],
      ['k_standard', 'standard', [...ROLE_SCOPES.standard]],
    ]);

    // Merged parts write the defaults down; running the statements again changes nothing.
    await execute(db, 'test.merge', `OPTIMIZE TABLE ${db.database}.${TABLES.apiKeys} FINAL`);
    for (const m of MIGRATIONS.filter((m) => m.version >= SCOPED))
      for (const statement of m.statements({ database: db.database })) await execute(db, 'test.again', statement);
    expect(await resolved()).toEqual(expected);
    expect(await migrate(db)).toEqual([]);
    await execute(db, 'test.drop', `DROP DATABASE ${db.database}`);
  });
});
