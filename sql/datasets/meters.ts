import { TABLES } from '../names.js';
import { createTable, type RenderTarget } from '../engines.js';

/**
 * Meter definitions: a JSON document per (tenant, key), versioned. A change or
 * a deletion is a new row; reads take the latest version (FINAL) and skip
 * deleted ones. Meters are definitions over the data, so no DDL follows them.
 */
export function metersDdl(t: RenderTarget): string[] {
  return createTable(t, {
    table: TABLES.meters,
    columns: `    tenant_id String,
    meter_key String,
    definition String,
    created_at DateTime64(3, 'UTC'),
    updated_at DateTime64(3, 'UTC'),
    is_deleted UInt8,
    version UInt64`,
    engine: 'ReplacingMergeTree',
    engineArgs: ['version'],
    dist: { kind: 'everywhere' },
    tail: 'ORDER BY (tenant_id, meter_key)',
  });
}
