import { TABLES } from '../names.js';
import { createTable, onCluster, qualified, storageTable, type RenderTarget } from '../engines.js';

/**
 * usage_events: every stored usage event, once.
 *
 * Dedupe contract
 * - Identity is (tenant_id, event_id): the ORDER BY key of a ReplacingMergeTree,
 *   so rows with the same identity collapse on merge and under FINAL.
 * - The direct writer already stores each identity once (it looks identities
 *   up before inserting, in serialized flushes), so "first accepted payload
 *   wins" holds immediately. The ReplacingMergeTree is the backstop for paths
 *   that cannot look up first (Kafka redelivery, several writers at once).
 * - A redelivery must keep `timestamp` in the same month: the table is
 *   partitioned by month of event time and rows in different partitions never
 *   collapse. Retries of one delivery are byte-identical, so this holds.
 * - `version` orders corrections of one event (amend/void come later); among
 *   equal versions the engine keeps the last inserted row, which is why the
 *   writer's lookup, not the merge, decides which payload wins.
 * - Reads that must be exact use FINAL (see sql/queries/events.ts).
 */
export const usageEventsColumns = `    tenant_id LowCardinality(String),
    event_id String,
    customer_id String,
    product_id String DEFAULT '',
    metric_name LowCardinality(String),
    timestamp DateTime64(3, 'UTC'),
    quantity Decimal(38, 9),
    dimensions Map(LowCardinality(String), String),
    source String DEFAULT '',
    source_version String DEFAULT '',
    request_id String DEFAULT '',
    ingested_at DateTime64(3, 'UTC'),
    stored_at DateTime64(3, 'UTC') DEFAULT now64(3),
    version UInt64 DEFAULT 1,
    INDEX idx_customer customer_id TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_timestamp timestamp TYPE minmax GRANULARITY 1,
    INDEX idx_stored_at stored_at TYPE minmax GRANULARITY 1`;

/**
 * Settings of the direct writer's inserts into usage_events (bench/stages.ts measures the ceiling with the same):
 * - `parallel_view_processing`: the table's views (the rollups, the log, the identity index) process each
 *   inserted block side by side instead of one after another. On 2 cores it raised the engine's own
 *   INSERT ... SELECT of 1M bench events from 47k to 65k rows/s with four views.
 * - `optimize_on_insert = 0`: the engine does not merge rows of equal key inside each new part of the
 *   Replacing and Aggregating tables. The writer's batch holds each identity once, and the views group
 *   the batch by their keys, so that merge found nothing to merge and cost 6.8 CPU s per 1M bench
 *   events (docs/benchmarks.md). Nothing reads a part as merged for it: such parts are written at level 0,
 *   which `FINAL` merges and background merges deduplicate, and every rollup read aggregates
 *   (test/insert-settings.test.ts).
 */
export const EVENT_INSERT_SETTINGS = { parallel_view_processing: 1, optimize_on_insert: 0 } as const;

export function usageEventsDdl(t: RenderTarget): string[] {
  return createTable(t, {
    table: TABLES.usageEvents,
    columns: usageEventsColumns,
    engine: 'ReplacingMergeTree',
    engineArgs: ['version'],
    // Sharding on the identity keeps every copy of an event on one shard, so FINAL dedupes it.
    dist: { kind: 'sharded', shardingKey: 'cityHash64(tenant_id, event_id)' },
    tail: 'PARTITION BY toYYYYMM(timestamp)\nORDER BY (tenant_id, event_id)',
  });
}

/**
 * Migration 24: the columns of the raw tables (usage_events and its copy usage_event_log) compressed
 * with ZSTD instead of the engine's default LZ4, the event time with T64 before it. LZ4 does no
 * entropy coding: a random id's hex digits, customer ids and decimal quantities in rows sorted by
 * event id kept most of their bytes. 1M bench events, merged (`npm run bench:codecs`,
 * docs/benchmarks.md): 49.0 -> 37.5 bytes per event with ids in random order, 26.7 -> 17.9 with
 * increasing ids, at the same insert time; a ZSTD column takes about twice as long to read.
 *
 * `event_id` keeps LZ4: the writer's identity lookup decompresses that column of every granule a
 * batch's ids fall in (all of them with random ids), and with ZSTD the same lookup took ~1.5x as
 * long. Small or constant columns (tenant, metric, version, flags) gain nothing and keep the default.
 *
 * Only the codec changes, so each ALTER is a change of metadata: parts written before keep LZ4 until
 * a merge rewrites them, new parts use the codecs. On a cluster the sharded storage tables hold the
 * data; the Distributed tables over them store nothing and keep their columns. Idempotent.
 */
export const RAW_COLUMN_CODECS: Readonly<Record<string, string>> = {
  customer_id: 'String CODEC(ZSTD(1))',
  product_id: "String DEFAULT '' CODEC(ZSTD(1))",
  timestamp: "DateTime64(3, 'UTC') CODEC(T64, ZSTD(1))",
  quantity: 'Decimal(38, 9) CODEC(ZSTD(1))',
  dimensions: 'Map(LowCardinality(String), String) CODEC(ZSTD(1))',
  source: "String DEFAULT '' CODEC(ZSTD(1))",
  source_version: "String DEFAULT '' CODEC(ZSTD(1))",
  request_id: "String DEFAULT '' CODEC(ZSTD(1))",
  ingested_at: "DateTime64(3, 'UTC') CODEC(ZSTD(1))",
  stored_at: "DateTime64(3, 'UTC') DEFAULT now64(3) CODEC(ZSTD(1))",
  changed_by: "String DEFAULT '' CODEC(ZSTD(1))",
};

export function rawCodecsDdl(t: RenderTarget): string[] {
  const modify = Object.entries(RAW_COLUMN_CODECS)
    .map(([column, definition]) => `MODIFY COLUMN ${column} ${definition}`)
    .join(',\n    ');
  return [TABLES.usageEvents, TABLES.usageEventLog].map((table) => `ALTER TABLE ${qualified(t, storageTable(t, table))}${onCluster(t)}\n    ${modify}`);
}
