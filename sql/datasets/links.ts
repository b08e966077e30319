import { TABLES } from '../names.js';
import { createTable, type RenderTarget } from '../engines.js';

/**
 * Migration 15: signed links (customer dashboards now, SQL console links
 * later), one row per link, for listing and revocation. The token itself is
 * never stored: it is signed, and carries everything needed to serve it; a
 * link whose row is missing or revoked is refused. ReplacingMergeTree on a
 * server-set version: a revocation is a newer row; reads use FINAL.
 */
export function accessLinksDdl(t: RenderTarget): string[] {
  return createTable(t, {
    table: TABLES.accessLinks,
    columns: `    tenant_id String,
    link_id String,
    kind LowCardinality(String),
    customer_id String,
    meters Array(String),
    created_at DateTime64(3, 'UTC'),
    expires_at DateTime64(3, 'UTC'),
    revoked_at Nullable(DateTime64(3, 'UTC')),
    created_by String,
    version UInt64`,
    engine: 'ReplacingMergeTree',
    engineArgs: ['version'],
    dist: { kind: 'everywhere' },
    tail: 'ORDER BY (tenant_id, link_id)',
  });
}
