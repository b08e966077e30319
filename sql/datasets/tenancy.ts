import { TABLES } from '../names.js';
import { createTable, onCluster, qualified, type RenderTarget } from '../engines.js';

/**
 * Tenants and API keys: small reference tables, replicated whole to every node.
 * Both are ReplacingMergeTree on a server-set `version` (epoch ms of the
 * change): a change is a new row, reads use FINAL and see the latest.
 * Keys are stored as SHA-256 of the secret, never the secret itself.
 */
export function tenantsDdl(t: RenderTarget): string[] {
  return createTable(t, {
    table: TABLES.tenants,
    columns: `    tenant_id String,
    name String,
    created_at DateTime64(3, 'UTC'),
    version UInt64`,
    engine: 'ReplacingMergeTree',
    engineArgs: ['version'],
    dist: { kind: 'everywhere' },
    tail: 'ORDER BY tenant_id',
  });
}

export function apiKeysDdl(t: RenderTarget): string[] {
  return createTable(t, {
    table: TABLES.apiKeys,
    columns: `    tenant_id String,
    key_id String,
    key_hash FixedString(64),
    name String,
    role LowCardinality(String),
    created_at DateTime64(3, 'UTC'),
    revoked_at Nullable(DateTime64(3, 'UTC')),
    version UInt64,
    INDEX idx_key_hash key_hash TYPE bloom_filter(0.001) GRANULARITY 1`,
    engine: 'ReplacingMergeTree',
    engineArgs: ['version'],
    dist: { kind: 'everywhere' },
    tail: 'ORDER BY (tenant_id, key_id)',
  });
}

export function migrationsDdl(t: RenderTarget): string[] {
  return createTable(t, {
    table: TABLES.migrations,
    columns: `    version UInt32,
    name String,
    applied_at DateTime64(3, 'UTC') DEFAULT now64(3)`,
    engine: 'ReplacingMergeTree',
    dist: { kind: 'everywhere' },
    tail: 'ORDER BY version',
  });
}

/**
 * Migration 12: keys hold scopes instead of a role. Rows written before it have
 * no scopes; the column's DEFAULT gives them the scope set their role meant
 * (access/scopes.ts ROLE_SCOPES: sql/ imports nothing of ours, so the mapping
 * is spelled here and test/access-migration.test.ts holds the two equal). A
 * DEFAULT is computed when old parts are read and written when they merge:
 * nothing is rewritten, and re-running is a no-op (IF NOT EXISTS).
 */
export function scopedKeysDdl(t: RenderTarget): string[] {
  return [
    `ALTER TABLE ${qualified(t, TABLES.apiKeys)}${onCluster(t)} ADD COLUMN IF NOT EXISTS scopes Array(LowCardinality(String))
    DEFAULT CAST(multiIf(role = 'admin', ['admin'], role = 'standard', ['events:write', 'usage:read', 'billing:read'], []), 'Array(LowCardinality(String))')`,
  ];
}

/**
 * Migration 13: tenants can be disabled and carry limit overrides (NULL: the
 * configured default), and the operator credential is stored, hashed.
 */
export function tenantStateDdl(t: RenderTarget): string[] {
  const columns = [
    'disabled Bool DEFAULT false',
    'ingest_events_per_second Nullable(UInt32)',
    'concurrent_reads Nullable(UInt32)',
    'read_max_execution_seconds Nullable(UInt32)',
    'read_max_rows_to_read Nullable(UInt64)',
    'read_max_memory_bytes Nullable(UInt64)',
  ];
  return [
    `ALTER TABLE ${qualified(t, TABLES.tenants)}${onCluster(t)} ${columns.map((c) => `ADD COLUMN IF NOT EXISTS ${c}`).join(', ')}`,
    ...createTable(t, {
      table: TABLES.operatorKeys,
      columns: `    key_id String,
    key_hash FixedString(64),
    name String,
    created_at DateTime64(3, 'UTC'),
    revoked_at Nullable(DateTime64(3, 'UTC')),
    version UInt64`,
      engine: 'ReplacingMergeTree',
      engineArgs: ['version'],
      dist: { kind: 'everywhere' },
      tail: 'ORDER BY key_id',
    }),
  ];
}
