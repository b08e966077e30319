import { TABLES, mvName } from '../names.js';
import { createTable, onCluster, qualified, storageTable, type RenderTarget } from '../engines.js';

/**
 * The Kafka ingest chain:
 *
 *   kafka_usage_events (Kafka engine, RawBLOB: every message as raw bytes)
 *     --usage_events_incoming_mv--> usage_events_incoming (Null engine)
 *         --usage_events_validated_mv--> usage_events_validated (Null engine: each message checked once)
 *             --usage_events_mv---------> usage_events        (valid events)
 *             --usage_dead_letters_mv---> usage_dead_letters  (everything else)
 *
 * Why the Null tables in the middle: the Kafka engine starts consuming as soon
 * as one view depends on it. Creating the two routing views straight on
 * the Kafka table would leave a moment in which only one of them exists and
 * messages would be consumed (and committed) past the other. Here both exist
 * before the one view that starts consumption is created, last. And the
 * contract is checked once per message (usage_events_validated_mv), not once
 * per routing view: the check is most of the engine's work on this path
 * (docs/benchmarks.md, "Kafka path").
 *
 * Why RawBLOB: a message that is not valid JSON still arrives, byte for byte,
 * and becomes a dead letter; no format parser can drop or block anything.
 * `kafka_handle_error_mode='stream'` keeps that true if the format changes.
 *
 * Exactness: the Kafka engine delivers at least once (a consumer restart
 * re-reads from the last committed offset). A redelivered event is a second
 * row with the same identity in usage_events, collapsed by FINAL and by the
 * rollup reconciler, like any duplicate. A redelivered dead letter has the
 * same (topic, partition, offset): usage_dead_letters collapses it the same way.
 */

export function usageDeadLettersDdl(t: RenderTarget): string[] {
  return createTable(t, {
    table: TABLES.usageDeadLetters,
    columns: `    tenant_id String,
    topic LowCardinality(String),
    partition Int64,
    offset Int64,
    raw_message String,
    error String,
    received_at DateTime64(3, 'UTC'),
    dead_lettered_at DateTime64(3, 'UTC') DEFAULT now64(3),
    replayed_at Nullable(DateTime64(3, 'UTC')),
    replayed_event_id String DEFAULT '',
    version UInt64 DEFAULT 0`,
    engine: 'ReplacingMergeTree',
    engineArgs: ['version'],
    dist: { kind: 'sharded', shardingKey: 'cityHash64(topic, partition, offset)' },
    // Identity of a dead letter is its place in the log: a redelivery collapses; a replay mark is a newer version.
    tail: 'PARTITION BY toYYYYMM(received_at)\nORDER BY (topic, partition, offset)',
  });
}

/** The Null table between the Kafka engine and the validating views (one per node on a cluster). */
export function incomingDdl(t: RenderTarget): string[] {
  return [
    `CREATE TABLE IF NOT EXISTS ${qualified(t, TABLES.usageEventsIncoming)}${onCluster(t)}
(
    message String,
    topic LowCardinality(String),
    partition Int64,
    offset Int64,
    message_time Nullable(DateTime64(3, 'UTC')),
    kafka_error String
)
ENGINE = Null`,
  ];
}

/** Where each event came from in the log (-1 / '' for events written directly). */
export function usageEventsLogPositionDdl(t: RenderTarget): string[] {
  const tables = t.cluster ? [storageTable(t, TABLES.usageEvents), TABLES.usageEvents] : [TABLES.usageEvents];
  return tables.map(
    (table) => `ALTER TABLE ${qualified(t, table)}${onCluster(t)}
    ADD COLUMN IF NOT EXISTS kafka_topic LowCardinality(String) DEFAULT '' AFTER version,
    ADD COLUMN IF NOT EXISTS kafka_partition Int64 DEFAULT -1 AFTER kafka_topic,
    ADD COLUMN IF NOT EXISTS kafka_offset Int64 DEFAULT -1 AFTER kafka_partition`,
  );
}

/**
 * The event contract as SQL (ingest/kafka-validation.ts): a SELECT over a
 * relation of raw messages yielding the parsed columns and `error`.
 */
export type ValidatedSelect = (source: string, tenantsTable: string) => string;

/**
 * The columns of usage_events_validated: every column the validating SELECT yields, in its order
 * and with its types (test/kafka-validation.test.ts compares them with the engine's DESCRIBE), so
 * the view inserts them as they are: nothing is cast on the way. The view is the SELECT itself: a
 * projection of fewer columns around it made the chain's insert of 300k messages 13.9-14.6 s
 * instead of 10.8-11.4 s when it was measured, before the checks were made eager
 * (docs/benchmarks.md, "Kafka path").
 */
export const VALIDATED_COLUMNS = [
  ['message', 'String'],
  ['topic', 'LowCardinality(String)'],
  ['partition', 'Int64'],
  ['offset', 'Int64'],
  ['received_ms', 'Int64'],
  ['ts_ms', 'Nullable(Int64)'],
  ['quantity_text', 'Nullable(String)'],
  ['q_parts', 'Array(String)'],
  ['q_int', 'String'],
  ['q_frac', 'String'],
  ['known_tenant', 'UInt8'],
  ['error', 'String'],
  ['tenant_id', 'String'],
  ['event_id', 'String'],
  ['customer_id', 'String'],
  ['product_id', 'String'],
  ['metric_name', 'String'],
  ['timestamp', "DateTime64(3, 'UTC')"],
  ['quantity', 'Decimal(38, 9)'],
  ['dimensions', 'Map(LowCardinality(String), String)'],
  ['source', 'String'],
  ['source_version', 'String'],
  ['request_id', 'String'],
] as const;

/**
 * The validation and the two routing views, in the order they are created: the Null table of
 * checked messages, the views reading it, then the one view that checks each incoming message
 * (nothing flows before the Kafka chain's last view exists anyway). The routing views write into
 * the plain (on a cluster: Distributed) tables, so every event lands on the shard of its identity.
 */
export function validationViewsDdl(t: RenderTarget, validatedSelect: ValidatedSelect): string[] {
  const validatedTable = qualified(t, TABLES.usageEventsValidated);
  return [
    `CREATE TABLE IF NOT EXISTS ${validatedTable}${onCluster(t)}
(
${VALIDATED_COLUMNS.map(([name, type]) => `    ${name} ${type}`).join(',\n')}
)
ENGINE = Null`,
    `CREATE MATERIALIZED VIEW IF NOT EXISTS ${qualified(t, mvName(TABLES.usageEvents))}${onCluster(t)} TO ${qualified(t, TABLES.usageEvents)}
AS SELECT tenant_id, event_id, customer_id, product_id, metric_name, timestamp, quantity, dimensions,
    source, source_version, request_id, fromUnixTimestamp64Milli(received_ms, 'UTC') AS ingested_at,
    topic AS kafka_topic, partition AS kafka_partition, offset AS kafka_offset
FROM ${validatedTable}
WHERE error = ''`,
    `CREATE MATERIALIZED VIEW IF NOT EXISTS ${qualified(t, mvName(TABLES.usageDeadLetters))}${onCluster(t)} TO ${qualified(t, TABLES.usageDeadLetters)}
AS SELECT if(known_tenant, tenant_id, '') AS tenant_id,
    topic, partition, offset, message AS raw_message, error,
    fromUnixTimestamp64Milli(received_ms, 'UTC') AS received_at
FROM ${validatedTable}
WHERE error != ''`,
    `CREATE MATERIALIZED VIEW IF NOT EXISTS ${qualified(t, mvName(TABLES.usageEventsValidated))}${onCluster(t)} TO ${validatedTable}
AS ${validatedSelect(qualified(t, TABLES.usageEventsIncoming), qualified(t, TABLES.tenants))}`,
  ];
}

export interface KafkaSourceOptions {
  brokers: string;
  topic: string;
  group: string;
  consumers: number;
  maxBlockSize: number;
  flushIntervalMs: number;
  pollTimeoutMs: number;
}

/**
 * The Kafka engine table and the view that starts its consumption (create in this order, last of the chain).
 *
 * With more than one consumer, each streams its blocks through the chain on a thread of its own
 * (`kafka_thread_per_consumer`) instead of one thread reading every consumer into one block: 1M events produced into
 * the topic, two consumers, freshness p50 0.65-0.84 s against 1.15-1.18 s in every run (p99 not better), and no
 * slower (a backlog 28,269-39,164 against 29,259-33,218 events/s; in-process 39,073-41,949 against 31,055-33,034)
 * (docs/benchmarks.md, "A thread per Kafka consumer"). One consumer renders the table as before, so its chain is not
 * rebuilt.
 */
export function kafkaSourceDdl(t: RenderTarget, opts: KafkaSourceOptions, comment: string): string[] {
  const text = (s: string) => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
  return [
    `CREATE TABLE IF NOT EXISTS ${qualified(t, TABLES.kafkaUsageEvents)}${onCluster(t)}
(
    message String
)
ENGINE = Kafka
SETTINGS kafka_broker_list = ${text(opts.brokers)},
    kafka_topic_list = ${text(opts.topic)},
    kafka_group_name = ${text(opts.group)},
    kafka_format = 'RawBLOB',
    kafka_handle_error_mode = 'stream',
    kafka_num_consumers = ${opts.consumers},
    kafka_max_block_size = ${opts.maxBlockSize},
    kafka_flush_interval_ms = ${opts.flushIntervalMs},
    kafka_poll_timeout_ms = ${opts.pollTimeoutMs}${opts.consumers > 1 ? ',\n    kafka_thread_per_consumer = 1' : ''}
COMMENT ${text(comment)}`,
    `CREATE MATERIALIZED VIEW IF NOT EXISTS ${qualified(t, mvName(TABLES.usageEventsIncoming))}${onCluster(t)} TO ${qualified(t, TABLES.usageEventsIncoming)}
AS SELECT if(_error = '', message, _raw_message) AS message, _topic AS topic, toInt64(_partition) AS partition, toInt64(_offset) AS offset,
    _timestamp_ms AS message_time, _error AS kafka_error
FROM ${qualified(t, TABLES.kafkaUsageEvents)}`,
  ];
}
