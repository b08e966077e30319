import { TABLES, mvName } from '../names.js';
import { createMaterializedView, createTable, qualified, type RenderTarget } from '../engines.js';

/**
 * usage_event_ids (migration 27): the identity of every row stored in usage_events, and nothing else,
 * in small granules. The writer's identity lookup (sql/queries/event-lookup.ts) reads it instead of
 * usage_events.
 *
 * Why: the lookup reads, for each id of a batch that is already stored (a redelivery), one granule of
 * `event_id` in every part whose key range holds it. usage_events keeps the engine's 8,192-row
 * granules; a batch of 25,000 ids with 250 redeliveries of old events then reads about 2M ids, 370 ms
 * of engine CPU on 10M events, about 15 µs per event of the batch. In 256-row granules the same lookup
 * reads 32 times fewer rows (61 ms; docs/benchmarks.md, "The identity lookup on its own table").
 * usage_events keeps its granules: the setting cannot change on an existing table, so smaller ones would
 * take a copy of every stored event, cold parts on S3 included.
 *
 * What makes it exact:
 * - a materialized view on usage_events writes every row's identity, whatever the path (the direct
 *   writer, the Kafka chain's view, corrections). The engine writes a block to usage_events before
 *   it pushes it to the table's views, so an identity here was stored there first: the lookup never
 *   answers "stored" for an event usage_events does not have;
 * - rows stored before the migration are copied by it, after the view exists, so none falls between
 *   the two. Run again after a crash, the copy adds identities already present, which the lookup
 *   (DISTINCT) and the engine (ReplacingMergeTree) count once;
 * - the event time partitions it by month, as usage_events, and raw retention deletes it at the same
 *   age (sql/retention.ts). Ingest refuses events long before that age (domain/retention.ts), so an
 *   identity whose event retention has deleted never decides a new event's fate.
 */
const EVENT_IDS_GRANULE_ROWS = 256;

export function eventIdsDdl(t: RenderTarget): string[] {
  return [
    ...createTable(t, {
      table: TABLES.usageEventIds,
      columns: `    tenant_id LowCardinality(String),
    event_id String,
    timestamp DateTime64(3, 'UTC') CODEC(T64, ZSTD(1))`,
      engine: 'ReplacingMergeTree',
      dist: { kind: 'sharded', shardingKey: 'cityHash64(tenant_id, event_id)' },
      // Small compressed blocks too: a granule's ids (about 3 KB) are read without their neighbours'.
      tail: `PARTITION BY toYYYYMM(timestamp)\nORDER BY (tenant_id, event_id)\nSETTINGS index_granularity = ${EVENT_IDS_GRANULE_ROWS}, min_compress_block_size = 4096`,
    }),
    createMaterializedView(t, {
      name: mvName(TABLES.usageEventIds),
      to: TABLES.usageEventIds,
      from: TABLES.usageEvents,
      select: (source) => `SELECT tenant_id, event_id, timestamp FROM ${source}`,
    }),
    // Through the plain (Distributed, on a cluster) tables: one statement copies every shard's rows to their shard.
    `INSERT INTO ${qualified(t, TABLES.usageEventIds)} (tenant_id, event_id, timestamp) SELECT tenant_id, event_id, timestamp FROM ${qualified(t, TABLES.usageEvents)}`,
  ];
}
