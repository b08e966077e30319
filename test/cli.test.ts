import { describe, expect, it } from 'vitest';
import { post, start, stop, tempDir, total } from './server-process.js';
import { cli } from './cli-process.js';
import { loadConfig } from '../api/config.js';
import { connectOptions } from '../api/runtime.js';
import { connect } from '../sql/connect.js';
import { execute } from '../sql/query.js';
import { TABLES } from '../sql/names.js';

/** Run with --json and parse what it printed (one JSON document on stdout). */
async function cliJson(dataDir: string, ...args: string[]): Promise<any> {
  const r = await cli(dataDir, '--json', ...args);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout);
}

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
