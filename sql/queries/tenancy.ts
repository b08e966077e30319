import { z } from 'zod';
import { TABLES } from '../names.js';
import { defineQuery, insertRows, nextVersion, type Db } from '../query.js';

export const API_KEY_ROLES = ['admin', 'standard'] as const;
export type ApiKeyRole = (typeof API_KEY_ROLES)[number];

const keyRow = z.object({
  tenantId: z.string(),
  keyId: z.string(),
  name: z.string(),
  role: z.enum(API_KEY_ROLES),
  createdAt: z.string(),
  revokedAt: z.string().nullable(),
});
export type ApiKeyRecord = z.infer<typeof keyRow>;

const keyColumns = `tenant_id AS tenantId, key_id AS keyId, name, role, created_at AS createdAt, revoked_at AS revokedAt`;

/** The key whose secret hashes to this value. FINAL: a revocation is a newer version of the row. */
export const keyByHash = defineQuery({
  name: 'api_keys.by_hash',
  params: z.object({ hash: z.string().length(64) }),
  row: keyRow,
  sql: (db) => `SELECT ${keyColumns} FROM ${db}.${TABLES.apiKeys} FINAL WHERE key_hash = {hash:String} LIMIT 1`,
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

export const tenantById = defineQuery({
  name: 'tenants.by_id',
  params: z.object({ tenantId: z.string() }),
  row: z.object({ tenantId: z.string(), name: z.string(), createdAt: z.string() }),
  sql: (db) => `SELECT tenant_id AS tenantId, name, created_at AS createdAt FROM ${db}.${TABLES.tenants} FINAL
WHERE tenant_id = {tenantId:String}`,
});

export interface KeyWrite {
  tenantId: string;
  keyId: string;
  keyHash: string;
  name: string;
  role: ApiKeyRole;
  createdAtMs: number;
  revokedAtMs: number | null;
}

/** Write a key's current state as a new version (creation, re-activation or revocation). */
export async function writeKey(db: Db, key: KeyWrite): Promise<void> {
  await insertRows(db, 'api_keys.write', TABLES.apiKeys, [
    {
      tenant_id: key.tenantId,
      key_id: key.keyId,
      key_hash: key.keyHash,
      name: key.name,
      role: key.role,
      created_at: key.createdAtMs,
      revoked_at: key.revokedAtMs,
      version: nextVersion(),
    },
  ], { tenantId: key.tenantId });
}

export async function writeTenant(db: Db, tenantId: string, name: string): Promise<void> {
  const now = Date.now();
  await insertRows(db, 'tenants.write', TABLES.tenants, [{ tenant_id: tenantId, name, created_at: now, version: now }], { tenantId });
}
