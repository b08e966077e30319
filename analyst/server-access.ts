import { assertIdentifier } from '../sql/names.js';
import type { TenantLimits } from '../access/limits.js';
import { TENANT_ID } from '../access/tenants.js';
import { TENANT_PARAM, VIRTUAL_TABLES } from './virtual-schema.js';

/**
 * Server mode's second wall: a readonly ClickHouse user for one tenant, for a
 * BI tool (Grafana, Metabase) connected straight to the server. Rendered from
 * the same sources as the embedded guard's virtual schema (virtual-schema.ts,
 * sql/names.ts), so it covers every table behind the virtual ones:
 *
 * - a database `<db>_t_<tenant>` holding one view per virtual table, its
 *   tenant filter a literal (the user's default database: the BI tool sees
 *   the same tables and columns as POST /v1/sql);
 * - SELECT on those views and on the storage tables behind them, nothing else;
 * - a row policy per storage table, `tenant_id = '<tenant>'`, for this user
 *   (the views are SQL SECURITY INVOKER, so the policy applies through them);
 * - a settings profile: readonly = 2 (BI tools set max_execution_time and
 *   the like per query) with every limit a MAX constraint at the tenant's
 *   value and the dangerous switches CONST.
 *
 * Needs `users_without_row_policies_can_read_rows` left at its default (true),
 * so meterhouse's own user keeps reading every tenant.
 */
export interface ServerAccessOptions {
  database: string;
  cluster?: string | undefined;
  tenantId: string;
  user: string;
  /** SHA-256 of the password, hex: the password itself never appears in DDL. */
  passwordSha256Hex: string;
  limits: Pick<TenantLimits, 'sqlMaxExecutionSeconds' | 'sqlMaxRowsToRead' | 'sqlMaxBytesToRead' | 'sqlMaxMemoryBytes' | 'sqlMaxResultRows'>;
}

export const tenantViewsDatabase = (database: string, tenantId: string) => `${database}_t_${tenantId.replaceAll('-', '_')}`;

export function renderServerAccess(o: ServerAccessOptions): string[] {
  const db = assertIdentifier('database', o.database);
  const user = assertIdentifier('user', o.user);
  if (!TENANT_ID.test(o.tenantId)) throw new Error(`tenant "${o.tenantId}" is not a tenant id`);
  if (!/^[0-9a-f]{64}$/.test(o.passwordSha256Hex)) throw new Error('passwordSha256Hex must be 64 lower-case hex digits');
  const on = o.cluster ? ` ON CLUSTER ${assertIdentifier('cluster', o.cluster)}` : '';
  const views = tenantViewsDatabase(db, o.tenantId);
  const tenant = `'${o.tenantId}'`; // TENANT_ID admits no quote or backslash
  const storage = [...new Set(VIRTUAL_TABLES.flatMap((t) => t.storage))];
  const profile = `${user}_profile`;
  const { limits } = o;
  const cap = (name: string, value: number) => `${name} = ${value} MAX ${value}`;
  return [
    `CREATE SETTINGS PROFILE IF NOT EXISTS ${profile}${on} SETTINGS readonly = 2, ${[
      cap('max_execution_time', limits.sqlMaxExecutionSeconds),
      cap('max_rows_to_read', limits.sqlMaxRowsToRead),
      cap('max_bytes_to_read', limits.sqlMaxBytesToRead),
      cap('max_memory_usage', limits.sqlMaxMemoryBytes),
      cap('max_result_rows', limits.sqlMaxResultRows),
      "result_overflow_mode = 'throw' CONST",
      'allow_ddl = 0 CONST',
      'allow_introspection_functions = 0 CONST',
      'optimize_move_to_prewhere_if_final = 0 CONST',
    ].join(', ')}`,
    `CREATE DATABASE IF NOT EXISTS ${views}${on}`,
    ...VIRTUAL_TABLES.map(
      (t) => `CREATE VIEW IF NOT EXISTS ${views}.${t.name}${on} SQL SECURITY INVOKER AS ${t.body(db).replaceAll(`{${TENANT_PARAM}:String}`, tenant)}`,
    ),
    `CREATE USER IF NOT EXISTS ${user}${on} IDENTIFIED WITH sha256_hash BY '${o.passwordSha256Hex}' DEFAULT DATABASE ${views} SETTINGS PROFILE ${profile}`,
    `GRANT${on} SELECT ON ${views}.* TO ${user}`,
    ...storage.map((table) => `GRANT${on} SELECT ON ${db}.${table} TO ${user}`),
    ...storage.map((table) => `CREATE ROW POLICY IF NOT EXISTS ${user}_tenant${on} ON ${db}.${table} FOR SELECT USING tenant_id = ${tenant} TO ${user}`),
  ];
}
