import type { Connection } from '../sql/connect.js';
import { KafkaSink } from '../ingest/kafka-sink.js';
import { KafkaAdmin } from '../ingest/kafka-admin.js';
import { ensureKafkaPipeline } from '../sql/kafka-pipeline.js';
import type { KafkaSourceOptions, ValidatedSelect } from '../sql/datasets/kafka-ingest.js';
import { validatedEventsSelect } from '../ingest/kafka-validation.js';
import { eventTimeBounds, type Config } from './config.js';
import type { Logger } from './logger.js';
import type { Metrics } from './metrics.js';

// The Kafka path's wiring, called by runtime.ts: the engine's consumer chain, the topic, and the API's producer.

/** What startKafka leaves running when KAFKA_BROKERS is set. */
export interface KafkaStarted {
  brokers: string[];
  admin: KafkaAdmin;
}

/** What the engine's Kafka chain is made of under `config`: its source (none without KAFKA_BROKERS) and the contract's SQL. */
export function kafkaChainOf(config: Config): { source: KafkaSourceOptions | undefined; validation: ValidatedSelect } {
  const validation: ValidatedSelect = (from, tenantsTable) => validatedEventsSelect(from, { tenantsTable, ...eventTimeBounds(config) });
  if (!config.KAFKA_BROKERS) return { source: undefined, validation };
  return {
    source: {
      brokers: config.KAFKA_ENGINE_BROKERS ?? config.KAFKA_BROKERS,
      topic: config.KAFKA_TOPIC,
      group: config.KAFKA_CONSUMER_GROUP,
      consumers: config.KAFKA_CONSUMERS,
      maxBlockSize: config.KAFKA_POLL_MAX_MESSAGES,
      flushIntervalMs: config.KAFKA_FLUSH_INTERVAL_MS,
      pollTimeoutMs: config.KAFKA_POLL_TIMEOUT_MS,
    },
    validation,
  };
}

/**
 * With KAFKA_BROKERS: make sure the topic exists (a broker that is down now is
 * not fatal: the API answers 503 until it is back), then make the ClickHouse
 * Kafka chain match the configuration. Without it: remove any chain left from
 * an earlier configuration, so nothing consumes behind the operator's back.
 */
export async function startKafka(db: Connection['db'], config: Config, logger: Logger): Promise<KafkaStarted | undefined> {
  const target = { database: db.database, cluster: config.CLICKHOUSE_CLUSTER };
  const { source, validation } = kafkaChainOf(config);
  if (!source || !config.KAFKA_BROKERS) {
    const change = await ensureKafkaPipeline(db, target, undefined, validation);
    if (change === 'removed') logger.warn('KAFKA_BROKERS is not set: removed the Kafka consumer chain of an earlier configuration');
    return undefined;
  }
  const brokers = config.KAFKA_BROKERS.split(',');
  const admin = new KafkaAdmin({
    brokers,
    clientId: config.KAFKA_CLIENT_ID,
    topic: config.KAFKA_TOPIC,
    group: config.KAFKA_CONSUMER_GROUP,
    timeoutMs: config.KAFKA_PRODUCE_TIMEOUT_MS,
  });
  try {
    const topic = await admin.ensureTopic(config.KAFKA_TOPIC_PARTITIONS, config.KAFKA_TOPIC_REPLICATION);
    logger.info({ topic: config.KAFKA_TOPIC, state: topic }, 'kafka topic');
  } catch (error) {
    logger.warn(
      { topic: config.KAFKA_TOPIC, err: error instanceof Error ? error.message : String(error) },
      'kafka topic not checked: the broker does not answer; continuing',
    );
  }
  const change = await ensureKafkaPipeline(db, target, source, validation);
  logger.info({ change, topic: config.KAFKA_TOPIC, group: config.KAFKA_CONSUMER_GROUP, consumers: config.KAFKA_CONSUMERS }, 'kafka consumer chain');
  return { brokers, admin };
}

/** The API's event sink with KAFKA_BROKERS: each accepted request is produced to the topic. */
export function kafkaSink(db: Connection['db'], config: Config, kafka: KafkaStarted, metrics: Metrics, logger: Logger): KafkaSink {
  return new KafkaSink(db, {
    brokers: kafka.brokers,
    clientId: config.KAFKA_CLIENT_ID,
    topic: config.KAFKA_TOPIC,
    produceTimeoutMs: config.KAFKA_PRODUCE_TIMEOUT_MS,
    counters: metrics.produceCounters,
    log: (level, message, fields) => logger[level](fields, message),
  });
}
