import { engine, newTenant, type TestTenant } from './harness.js';

export type AnalystTenant = TestTenant & { sqlKey: string; sql(body: unknown): Promise<{ status: number; body: any; headers: Headers }> };

/** A tenant with an admin key and a key that holds only `sql`. */
export async function analystTenant(): Promise<AnalystTenant> {
  const t = await newTenant();
  const r = await engine();
  const { secret } = await r.deps.access.keys.create(t.tenantId, 'analyst', ['sql']);
  return { ...t, sqlKey: secret, sql: (body) => t.json('POST', '/v1/sql', { body, key: secret }) };
}
