import { TABLES } from '../names.js';
import { createTable, type RenderTarget } from '../engines.js';

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
 * Settings of the direct writer's inserts into usage_events: the table's views (three rollups and
 * the log) process each inserted block side by side instead of one after another. On 2 cores it
 * raised the engine's own INSERT ... SELECT of 1M bench events from 47k to 65k rows/s with all four
 * views (bench/stages.ts measures the ceiling with the same settings).
 */
export const EVENT_INSERT_SETTINGS = { parallel_view_processing: 1 } as const;

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
