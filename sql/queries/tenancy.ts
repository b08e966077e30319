import { z } from 'zod';
import { TABLES } from '../names.js';
import { defineQuery, insertRows, nextVersion, type Db } from '../query.js';

const keyRow = z.object({
  tenantId: z.string(),
  keyId: z.string(),
  name: z.string(),
  scopes: z.array(z.string()),
  createdAt: z.string(),
  revokedAt: z.string().nullable(),
});
export type ApiKeyRow = z.infer<typeof keyRow>;

const keyColumns = `tenant_id AS tenantId, key_id AS keyId, name, scopes, created_at AS createdAt, revoked_at AS revokedAt`;

/** The key whose secret hashes to this value. FINAL: a revocation is a newer version of the row. */
export const keyByHash = defineQuery({
  name: 'api_keys.by_hash',
  params: z.object({ hash: z.string().length(64) }),
  row: keyRow,
  sql: (db) => `SELECT ${keyColumns} FROM ${db}.${TABLES.apiKeys} FINAL WHERE key_hash = {hash:String} LIMIT 1`,
});

/**
 * Every key with its hash, without bound parameters: on the embedded engine
 * the key cache reads this whole (small) table instead of keyByHash, so a
 * lookup never queues behind a long parameterized read (access/fresh-read.ts). FINAL as above.
 */
export const allKeysWithHash = defineQuery({
  name: 'api_keys.all',
  params: z.object({}),
  row: keyRow.extend({ keyHash: z.string() }),
  sql: (db) => `SELECT ${keyColumns}, key_hash AS keyHash FROM ${db}.${TABLES.apiKeys} FINAL`,
});

export const keysOfTenant = defineQuery({
  name: 'api_keys.list',
  params: z.object({ tenantId: z.string() }),
  row: keyRow,
  sql: (db) => `SELECT ${keyColumns} FROM ${db}.${TABLES.apiKeys} FINAL WHERE tenant_id = {tenantId:String} ORDER BY created_at, key_id`,
});

export const keyHashOf = defineQuery({
  name: 'api_keys.hash_of',
  params: z.object({ tenantId: z.string(), keyId: z.string() }),
  row: z.object({ keyHash: z.string() }),
  sql: (db) => `SELECT key_hash AS keyHash FROM ${db}.${TABLES.apiKeys} FINAL
WHERE tenant_id = {tenantId:String} AND key_id = {keyId:String}`,
});

export interface KeyWrite {
  tenantId: string;
  keyId: string;
  keyHash: string;
  name: string;
  /** The role these scopes amount to ('admin', 'standard'), or 'scoped': kept so an older version reading the row is not misled. */
  role: string;
  scopes: readonly string[];
  createdAtMs: number;
  revokedAtMs: number | null;
}

/** Write a key's current state as a new version (creation, re-activation or revocation). */
export async function writeKey(db: Db, key: KeyWrite): Promise<void> {
  await insertRows(
    db,
    'api_keys.write',
    TABLES.apiKeys,
    [
      {
        tenant_id: key.tenantId,
        key_id: key.keyId,
        key_hash: key.keyHash,
        name: key.name,
        role: key.role,
        scopes: key.scopes,
        created_at: key.createdAtMs,
        revoked_at: key.revokedAtMs,
        version: nextVersion(),
      },
    ],
    { tenantId: key.tenantId },
  );
}

/** Per-tenant limit overrides; null means the configured default applies. */
const limitOverrides = z.object({
  ingestEventsPerSecond: z.coerce.number().nullable(),
  concurrentReads: z.coerce.number().nullable(),
  readMaxExecutionSeconds: z.coerce.number().nullable(),
  readMaxRowsToRead: z.coerce.number().nullable(),
  readMaxMemoryBytes: z.coerce.number().nullable(),
  sqlMaxExecutionSeconds: z.coerce.number().nullable(),
  sqlMaxRowsToRead: z.coerce.number().nullable(),
  sqlMaxBytesToRead: z.coerce.number().nullable(),
  sqlMaxMemoryBytes: z.coerce.number().nullable(),
  sqlMaxResultRows: z.coerce.number().nullable(),
  sqlConcurrentQueries: z.coerce.number().nullable(),
});
export type LimitOverrides = z.infer<typeof limitOverrides>;

const tenantRow = z.object({
  tenantId: z.string(),
  name: z.string(),
  createdAt: z.string(),
  disabled: z.coerce.boolean(),
  limits: limitOverrides,
});
export type TenantRow = z.infer<typeof tenantRow>;

const tenantColumns = `tenant_id AS tenantId, name, created_at AS createdAt, disabled,
CAST(tuple(ingest_events_per_second, concurrent_reads, read_max_execution_seconds, read_max_rows_to_read, read_max_memory_bytes,
    sql_max_execution_seconds, sql_max_rows_to_read, sql_max_bytes_to_read, sql_max_memory_bytes, sql_max_result_rows, sql_concurrent_queries),
  'Tuple(ingestEventsPerSecond Nullable(UInt32), concurrentReads Nullable(UInt32), readMaxExecutionSeconds Nullable(UInt32), readMaxRowsToRead Nullable(UInt64), readMaxMemoryBytes Nullable(UInt64), ' ||
  'sqlMaxExecutionSeconds Nullable(UInt32), sqlMaxRowsToRead Nullable(UInt64), sqlMaxBytesToRead Nullable(UInt64), sqlMaxMemoryBytes Nullable(UInt64), sqlMaxResultRows Nullable(UInt32), sqlConcurrentQueries Nullable(UInt32))') AS limits`;

/** FINAL: a rename, a disable or a limit change is a newer version of the row. */
export const tenantById = defineQuery({
  name: 'tenants.by_id',
  params: z.object({ tenantId: z.string() }),
  row: tenantRow,
  sql: (db) => `SELECT ${tenantColumns} FROM ${db}.${TABLES.tenants} FINAL WHERE tenant_id = {tenantId:String}`,
});

export const allTenants = defineQuery({
  name: 'tenants.list',
  params: z.object({}),
  row: tenantRow,
  sql: (db) => `SELECT ${tenantColumns} FROM ${db}.${TABLES.tenants} FINAL ORDER BY tenant_id`,
});

export interface TenantWrite {
  tenantId: string;
  name: string;
  createdAtMs: number;
  disabled: boolean;
  limits: LimitOverrides;
}

/** Write a tenant's whole current state as a new version. */
export async function writeTenantState(db: Db, t: TenantWrite): Promise<void> {
  const { limits } = t;
  await insertRows(
    db,
    'tenants.write',
    TABLES.tenants,
    [
      {
        tenant_id: t.tenantId,
        name: t.name,
        created_at: t.createdAtMs,
        disabled: t.disabled,
        ingest_events_per_second: limits.ingestEventsPerSecond,
        concurrent_reads: limits.concurrentReads,
        read_max_execution_seconds: limits.readMaxExecutionSeconds,
        read_max_rows_to_read: limits.readMaxRowsToRead,
        read_max_memory_bytes: limits.readMaxMemoryBytes,
        sql_max_execution_seconds: limits.sqlMaxExecutionSeconds,
        sql_max_rows_to_read: limits.sqlMaxRowsToRead,
        sql_max_bytes_to_read: limits.sqlMaxBytesToRead,
        sql_max_memory_bytes: limits.sqlMaxMemoryBytes,
        sql_max_result_rows: limits.sqlMaxResultRows,
        sql_concurrent_queries: limits.sqlConcurrentQueries,
        version: nextVersion(),
      },
    ],
    { tenantId: t.tenantId },
  );
}

export const NO_OVERRIDES: LimitOverrides = {
  ingestEventsPerSecond: null,
  concurrentReads: null,
  readMaxExecutionSeconds: null,
  readMaxRowsToRead: null,
  readMaxMemoryBytes: null,
  sqlMaxExecutionSeconds: null,
  sqlMaxRowsToRead: null,
  sqlMaxBytesToRead: null,
  sqlMaxMemoryBytes: null,
  sqlMaxResultRows: null,
  sqlConcurrentQueries: null,
};

/** A new, enabled tenant with the default limits. */
export async function writeTenant(db: Db, tenantId: string, name: string): Promise<void> {
  await writeTenantState(db, { tenantId, name, createdAtMs: Date.now(), disabled: false, limits: NO_OVERRIDES });
}

const operatorKeyRow = z.object({ keyId: z.string(), name: z.string(), createdAt: z.string(), revokedAt: z.string().nullable() });

export const operatorKeyByHash = defineQuery({
  name: 'operator_keys.by_hash',
  params: z.object({ hash: z.string().length(64) }),
  row: operatorKeyRow,
  sql: (db) =>
    `SELECT key_id AS keyId, name, created_at AS createdAt, revoked_at AS revokedAt FROM ${db}.${TABLES.operatorKeys} FINAL WHERE key_hash = {hash:String} LIMIT 1`,
});

export const activeOperatorKeys = defineQuery({
  name: 'operator_keys.active',
  params: z.object({}),
  row: operatorKeyRow,
  sql: (db) =>
    `SELECT key_id AS keyId, name, created_at AS createdAt, revoked_at AS revokedAt FROM ${db}.${TABLES.operatorKeys} FINAL WHERE revoked_at IS NULL ORDER BY created_at`,
});

export async function writeOperatorKey(
  db: Db,
  key: { keyId: string; keyHash: string; name: string; createdAtMs: number; revokedAtMs: number | null },
): Promise<void> {
  await insertRows(db, 'operator_keys.write', TABLES.operatorKeys, [
    { key_id: key.keyId, key_hash: key.keyHash, name: key.name, created_at: key.createdAtMs, revoked_at: key.revokedAtMs, version: nextVersion() },
  ]);
}
