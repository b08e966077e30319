import { describe, expect, it } from 'vitest';
import { post, start, stop, tempDir, total } from './server-process.js';
import { cli, cliJson } from './cli-process.js';
import { loadConfig } from '../api/config.js';
import { connectOptions } from '../api/runtime-settings.js';
import { connect } from '../sql/connect.js';
import { execute, insertRows, runQuery } from '../sql/query.js';
import { TABLES } from '../sql/names.js';
import { rollupSelect, rollupTier } from '../sql/datasets/rollups.js';
import { z } from 'zod';

const api = (url: string, key: string, path: string) => fetch(`${url}${path}`, { headers: { authorization: `Bearer ${key}` } });

describe('meterhouse CLI', () => {
  it('creates a tenant and keys that a started server accepts, refuses to touch a running data dir, revokes and recovers on a stopped one, all audited', async () => {
    const dataDir = await tempDir();
    expect((await cliJson(dataDir, 'migrate')).applied).toContain(14);
    const refused = await cli(dataDir, 'tenants', 'create', 'bad id');
    expect([refused.code, refused.stderr]).toEqual([1, expect.stringContaining('tenant id "bad id" must be')]);
    const tenant = await cliJson(dataDir, 'tenants', 'create', 'acme', '--name', 'Acme Inc');
    expect(tenant).toMatchObject({ tenantId: 'acme', name: 'Acme Inc', adminKey: expect.stringMatching(/^mh_/) });
    const svc = await cliJson(dataDir, 'keys', 'create', '--tenant', 'acme', '--name', 'ingest', '--role', 'standard');
    expect(svc).toMatchObject({ name: 'ingest', scopes: ['events:write', 'usage:read', 'billing:read'], revokedAt: null, key: expect.stringMatching(/^mh_/) });
    const listed = await cliJson(dataDir, 'keys', 'list', '--tenant', 'acme');
    expect(listed.map((k: any) => k.name).sort()).toEqual(['first admin', 'ingest']);
    expect(JSON.stringify(listed)).not.toContain('mh_');
    expect((await cliJson(dataDir, 'tenants', 'list')).map((t: any) => t.tenantId)).toContain('acme');

    const server = await start({ DATA_DIR: dataDir, METERHOUSE_API_KEY: 'default-admin-key-0123456789abc' });
    expect((await post(server, svc.key, [{ eventId: 'c1', customerId: 'c', metricName: 'm', quantity: '2' }])).status).toBe(200);
    expect(await total(server, tenant.adminKey)).toEqual([{ customerId: 'c', metricName: 'm', quantity: '2', events: 1 }]);
    const busy = await cli(dataDir, 'admin-key', 'recover', '--tenant', 'acme');
    expect(busy.code).toBe(1);
    expect(busy.stderr).toMatch(new RegExp(`Cannot open DATA_DIR .*in use by another process \\(PID ${server.proc.pid}\\)`));
    expect(busy.stdout).not.toContain('mh_');
    expect(await stop(server)).toBe(0);

    const revoked = await cliJson(dataDir, 'keys', 'revoke', svc.keyId, '--tenant', 'acme');
    expect(revoked).toMatchObject({ keyId: svc.keyId, revokedAt: expect.any(String) });
    const recovered = await cli(dataDir, 'admin-key', 'recover', '--tenant', 'acme');
    expect(recovered.code, recovered.stderr).toBe(0);
    const newKey = /^\s+(mh_[A-Za-z0-9_-]+)\s*$/m.exec(recovered.stdout)?.[1];
    expect(recovered.stdout.match(/mh_/g)).toHaveLength(1);

    const again = await start({ DATA_DIR: dataDir, METERHOUSE_API_KEY: 'default-admin-key-0123456789abc' });
    expect((await api(again.url, newKey!, '/v1/api-keys')).status).toBe(200);
    expect((await post(again, svc.key, [{ eventId: 'c2', customerId: 'c', metricName: 'm' }])).status).toBe(401);
    const audit = (await (await api(again.url, newKey!, '/v1/audit')).json()) as any;
    expect(audit.data.map((r: any) => [r.actor, r.kind])).toEqual([
      ['cli', 'tenant.created'],
      ['cli', 'api_key.created'],
      ['cli', 'api_key.created'],
      ['cli', 'api_key.revoked'],
      ['cli', 'admin_key.recovered'],
    ]);
    expect(JSON.stringify(audit)).not.toContain('mh_');
    await stop(again);

    const verified = await cliJson(dataDir, 'audit', 'verify', '--tenant', 'acme');
    expect(verified).toEqual([
      { tenantId: 'acme', audit: { ok: true, rows: 5, head: { sequence: 5, hash: audit.data[4].hash } }, exports: { ok: true, exports: 0, head: null } },
    ]);
    const status = await cliJson(dataDir, 'status');
    expect(status.tables.find((t: any) => t.table === 'audit_log').rows).toBe(5);
    expect(status.tenants.find((t: any) => t.tenantId === 'acme')).toMatchObject({ name: 'Acme Inc', lastExport: null });
    expect(await cliJson(dataDir, 'close', '--tenant', 'acme')).toEqual({ exports: [] });
  }, 180_000);

  it('refuses commands on a schema that is not migrated, and unknown tenants', async () => {
    const dataDir = await tempDir();
    const early = await cli(dataDir, 'keys', 'list');
    expect([early.code, early.stderr]).toEqual([1, expect.stringContaining('run `meterhouse migrate` first')]);
    await cliJson(dataDir, 'migrate');
    const unknown = await cli(dataDir, 'keys', 'create', '--tenant', 'nobody', '--name', 'x');
    expect([unknown.code, unknown.stderr]).toEqual([1, expect.stringContaining('no tenant "nobody"')]);
  }, 60_000);

  it('reconcile --full compares every window again: a day left high in the day tier, which a run from the watermark never sees, is rewritten', async () => {
    const dataDir = await tempDir();
    await cliJson(dataDir, 'migrate');
    const open = () => connect(connectOptions(loadConfig({ DATA_DIR: dataDir, ENGINE_MAX_MEMORY_BYTES: String(2 * 1024 ** 3) })));
    const d0 = Date.now() - 3 * 86_400_000;
    const day = d0 - (d0 % 86_400_000);
    // Events stored an hour ago (as the views count them), then reconciled: the watermark passes them.
    let connection = await open();
    const storedAt = Date.now() - 3_600_000;
    const events = [1, 2, 3].map((i) => ({
      tenant_id: 'rec',
      event_id: `e${i}`,
      customer_id: 'c',
      metric_name: 'm',
      timestamp: day + i * 3_600_000,
      quantity: String(i),
      dimensions: {},
      ingested_at: storedAt,
      stored_at: storedAt,
    }));
    await insertRows(connection.db, 'test.events', TABLES.usageEvents, events);
    await connection.close();
    expect(await cliJson(dataDir, 'reconcile')).toMatchObject({ checked: 3, rewritten: 0, daysRewritten: 0 });

    // The day tier counts e1 a second time, as a rewrite that raced its insert leaves it.
    connection = await open();
    const d = connection.db.database;
    const once = rollupSelect(rollupTier('day'), `${d}.${TABLES.usageEvents} FINAL`, "tenant_id = 'rec' AND event_id = 'e1'");
    await execute(connection.db, 'test.count_twice', `INSERT INTO ${d}.${TABLES.usagePerDay}\n${once}`);
    await connection.close();

    expect(await cliJson(dataDir, 'reconcile')).toMatchObject({ checked: 0, daysRewritten: 0 });
    expect(await cliJson(dataDir, 'reconcile', '--full')).toMatchObject({ sinceMs: 0, checked: 3, rewritten: 0, daysRewritten: 1 });
    const text = await cli(dataDir, 'reconcile', '--full');
    expect(text.stdout).toContain('rewritten from the hour tier: minute-tier hours 0, days 0');

    connection = await open();
    const row = z.object({ events: z.coerce.number(), quantity: z.string() });
    const [dayRow] = await runQuery(
      connection.db,
      'test.day',
      `SELECT sum(events) AS events, toString(sum(quantity_sum)) AS quantity FROM ${d}.${TABLES.usagePerDay} WHERE tenant_id = 'rec'`,
      {},
      row,
    );
    await connection.close();
    expect(dayRow).toEqual({ events: 3, quantity: '6' });
  }, 120_000);

  it('audit verify exits 1 and names the row when the chain was changed in the engine', async () => {
    const dataDir = await tempDir();
    await cliJson(dataDir, 'migrate');
    await cliJson(dataDir, 'tenants', 'create', 'acme');
    // The CLI has exited, so this process may open the data directory and tamper with the first row.
    const connection = await connect(connectOptions(loadConfig({ DATA_DIR: dataDir, ENGINE_MAX_MEMORY_BYTES: String(2 * 1024 ** 3) })));
    await execute(
      connection.db,
      'test.tamper',
      `ALTER TABLE ${connection.db.database}.${TABLES.auditLog} UPDATE actor = 'someone' WHERE sequence = 1 SETTINGS mutations_sync = 2`,
    );
    await connection.close();
    const r = await cli(dataDir, 'audit', 'verify');
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^acme: audit \(0 rows\) BROKEN at #1 \(aud_\w+\): hash does not match/m);
  }, 60_000);
});
