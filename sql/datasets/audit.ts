import { TABLES } from '../names.js';
import { createTable, onCluster, qualified, type RenderTarget } from '../engines.js';

/**
 * The audit log: one row per change made through the API or the CLI, append
 * only (plain MergeTree: nothing replaces or collapses a row, so a forged or
 * repeated row stays visible to verification). Rows of a tenant form a hash
 * chain: `previous_hash` is the `hash` of the tenant's row at `sequence - 1`
 * ('' for the first), `hash` is SHA-256 over the row's fields (access/audit.ts).
 *
 * Appends race safely across processes: each insert carries the
 * insert_deduplication_token "<tenant>/<sequence>", so of two writers that read
 * the same head only the first insert lands; the other reads back, finds a
 * row that is not its own and appends again after it (as billing claims do).
 * No TTL: an audit trail is kept.
 */
export function auditLogDdl(t: RenderTarget): string[] {
  return createTable(t, {
    table: TABLES.auditLog,
    columns: `    tenant_id String,
    sequence UInt64,
    id String,
    at DateTime64(3, 'UTC'),
    actor String,
    kind LowCardinality(String),
    request_id String,
    target String,
    before String,
    after String,
    previous_hash String,
    hash String`,
    engine: 'MergeTree',
    dist: { kind: 'everywhere' },
    tail: 'ORDER BY (tenant_id, sequence)\nSETTINGS non_replicated_deduplication_window = 10000',
  });
}

/**
 * The export ledger as a chain: each manifest carries the checksum of the
 * tenant's previous manifest ('' for the first, and for exports written
 * before this column existed). Idempotent.
 */
export function chainExportsDdl(t: RenderTarget): string[] {
  return [`ALTER TABLE ${qualified(t, TABLES.billingExports)}${onCluster(t)} ADD COLUMN IF NOT EXISTS previous_checksum String DEFAULT '' AFTER checksum`];
}

/**
 * Each tenant's export webhook: URL and HMAC secret, set through the API.
 * The secret is stored as given (the dispatcher signs with it, so it cannot
 * be a hash); it is never returned by the API nor written to the audit log.
 * A deletion is a newer version with deleted = 1.
 */
export function tenantWebhooksDdl(t: RenderTarget): string[] {
  return createTable(t, {
    table: TABLES.tenantWebhooks,
    columns: `    tenant_id String,
    url String,
    secret String,
    updated_at DateTime64(3, 'UTC'),
    deleted UInt8,
    version UInt64`,
    engine: 'ReplacingMergeTree',
    engineArgs: ['version'],
    dist: { kind: 'everywhere' },
    tail: 'ORDER BY tenant_id',
  });
}
