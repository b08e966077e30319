import { TABLES } from '../names.js';
import { createTable, type RenderTarget } from '../engines.js';

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
