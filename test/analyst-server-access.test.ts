import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { engine } from './harness.js';
import { renderServerAccess, tenantViewsDatabase } from '../analyst/server-access.js';
import { VIRTUAL_TABLES } from '../analyst/virtual-schema.js';
import { analystTenant } from './analyst-fixture.js';

const limits = { sqlMaxExecutionSeconds: 30, sqlMaxRowsToRead: 1e9, sqlMaxBytesToRead: 1e11, sqlMaxMemoryBytes: 2 ** 30, sqlMaxResultRows: 100_000 };
const options = {
  database: 'meterhouse',
  tenantId: 'acme',
  user: 'acme_bi',
  passwordSha256Hex: createHash('sha256').update('a-long-password-123').digest('hex'),
  limits,
};

describe('the server-mode readonly analyst user (rendered; no ClickHouse server runs here)', () => {
  it('covers every table behind the virtual ones: a view each, SELECT and a tenant row policy on each storage table, nothing more', () => {
    const ddl = renderServerAccess(options);
    const storage = new Set(VIRTUAL_TABLES.flatMap((t) => t.storage));
    expect(storage.size).toBe(10);
    for (const table of storage) {
      expect(ddl).toContain(`GRANT SELECT ON meterhouse.${table} TO acme_bi`);
      expect(ddl).toContain(`CREATE ROW POLICY IF NOT EXISTS acme_bi_tenant ON meterhouse.${table} FOR SELECT USING tenant_id = 'acme' TO acme_bi`);
    }
    for (const t of VIRTUAL_TABLES)
      expect(ddl.some((s) => s.startsWith(`CREATE VIEW IF NOT EXISTS meterhouse_t_acme.${t.name} SQL SECURITY INVOKER AS SELECT`))).toBe(true);
    const grants = ddl.filter((s) => s.startsWith('GRANT'));
    expect(grants).toHaveLength(storage.size + 1);
    expect(grants.every((g) => /^GRANT SELECT ON /.test(g))).toBe(true);
    expect(ddl.join('\n')).not.toContain('a-long-password-123');
    expect(ddl[0]).toMatch(/readonly = 2, max_execution_time = 30 MAX 30, .*allow_ddl = 0 CONST, allow_introspection_functions = 0 CONST/);
  });

  it('renders ON CLUSTER for a cluster and refuses names that are not identifiers or tenant ids', () => {
    expect(renderServerAccess({ ...options, cluster: 'main' }).every((s) => s.includes(' ON CLUSTER main'))).toBe(true);
    expect(() => renderServerAccess({ ...options, tenantId: "x' OR 1 --" })).toThrow(/tenant/);
    expect(() => renderServerAccess({ ...options, user: 'a b' })).toThrow(/user/);
    expect(() => renderServerAccess({ ...options, passwordSha256Hex: 'plain' })).toThrow(/hex/);
  });

  it("is valid ClickHouse: every statement parses, and each view reads exactly what the tenant's virtual table gives", async () => {
    const r = await engine();
    const t = await analystTenant();
    expect((await t.json('POST', '/v1/events', { body: [{ eventId: 'e1', customerId: 'c1', metricName: 'm', quantity: '2.5' }] })).status).toBe(200);
    const ddl = renderServerAccess({ ...options, database: r.deps.db.database, tenantId: t.tenantId });
    const parse = async (sql: string) =>
      (await r.deps.db.client.query({ query: 'SELECT formatQuerySingleLine({s:String}) AS f', query_params: { s: sql }, format: 'JSONEachRow' })).json();
    for (const statement of ddl) await expect(parse(statement), statement).resolves.toHaveLength(1);
    const view = ddl.find((s) => s.includes(`${tenantViewsDatabase(r.deps.db.database, t.tenantId)}.events `))!;
    const body = view.slice(view.indexOf(' AS SELECT ') + 4);
    const rows = await (await r.deps.db.client.query({ query: `SELECT event_id, toString(quantity) AS q FROM (${body})`, format: 'JSONEachRow' })).json();
    expect(rows).toEqual([{ event_id: 'e1', q: '2.5' }]);
  });
});
