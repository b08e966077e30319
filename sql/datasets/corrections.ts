import { TABLES, mvName } from '../names.js';
import { createMaterializedView, createTable, onCluster, qualified, storageTable, type RenderTarget } from '../engines.js';
import { usageEventsColumns } from './usage-events.js';

/**
 * Corrections (amend, void) and the append-only event log.
 *
 * usage_events stays the one table every number reads, with FINAL: a
 * correction is a new row of the same identity with a higher `version`
 * (a microsecond clock, so always above an original's 1), and a void is such
 * a row with `is_deleted = 1`. Reads filter `is_deleted = 0` after FINAL (a
 * WHERE on a non-key column is applied after FINAL's merge unless
 * optimize_move_to_prewhere_if_final is on, which meterhouse never sets), so
 * a voided event leaves every number while its identity still makes a
 * redelivery a duplicate. ReplacingMergeTree's engine arguments cannot change
 * on an existing table, hence a plain column rather than the engine's own
 * is_deleted parameter. `changed_by` names the API key of a correction.
 *
 * usage_event_log is an append-only copy (MergeTree, never collapsed) of every
 * row written to usage_events, whatever the path (direct writer, Kafka MV,
 * corrections), kept by a materialized view. Merges of usage_events drop
 * superseded versions and collapse redeliveries into the last copy, so what an
 * event was as of a cutoff (billing) and its history of versions (audit) are
 * read here: every version with the stored_at it was written with, and the
 * first stored copy of each. It costs a second copy of the raw events.
 * The backfill copies rows stored before the migration; run again after a
 * crash it adds identical copies, which no reader counts twice (readers take
 * one row per identity and version).
 */
export const LOG_COLUMNS =
  'tenant_id, event_id, customer_id, product_id, metric_name, timestamp, quantity, dimensions, source, source_version, request_id, ingested_at, stored_at, version, is_deleted, changed_by';

export function correctionsDdl(t: RenderTarget): string[] {
  // On a cluster both the sharded storage table and the Distributed table over it need the columns.
  const tables = t.cluster ? [storageTable(t, TABLES.usageEvents), TABLES.usageEvents] : [TABLES.usageEvents];
  return [
    ...tables.flatMap((table) => [
      `ALTER TABLE ${qualified(t, table)}${onCluster(t)} ADD COLUMN IF NOT EXISTS is_deleted UInt8 DEFAULT 0`,
      `ALTER TABLE ${qualified(t, table)}${onCluster(t)} ADD COLUMN IF NOT EXISTS changed_by String DEFAULT ''`,
    ]),
    ...createTable(t, {
      table: TABLES.usageEventLog,
      columns: `${usageEventsColumns},
    is_deleted UInt8 DEFAULT 0,
    changed_by String DEFAULT ''`,
      engine: 'MergeTree',
      dist: { kind: 'sharded', shardingKey: 'cityHash64(tenant_id, event_id)' },
      tail: 'PARTITION BY toYYYYMM(timestamp)\nORDER BY (tenant_id, event_id, version, stored_at)',
    }),
    createMaterializedView(t, {
      name: mvName(TABLES.usageEventLog),
      to: TABLES.usageEventLog,
      from: TABLES.usageEvents,
      select: (source) => `SELECT ${LOG_COLUMNS} FROM ${source}`,
    }),
    // Through the plain (Distributed, on a cluster) tables: one statement copies every shard's rows to their shard.
    `INSERT INTO ${qualified(t, TABLES.usageEventLog)} (${LOG_COLUMNS}) SELECT ${LOG_COLUMNS} FROM ${qualified(t, TABLES.usageEvents)}`,
  ];
}
