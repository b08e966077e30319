import { Counter, Gauge, Registry } from 'prom-client';
import type { Db } from '../sql/query.js';
import type { ProduceCounters } from '../ingest/kafka-sink.js';
import type { KafkaAdmin } from '../ingest/kafka-admin.js';
import { deadLetterCounts } from '../sql/queries/dead-letters.js';
import type { Logger } from './logger.js';

/**
 * Prometheus metrics of one process (its own registry, so several runtimes in
 * one test process never clash). Totals only: no tenant or customer labels,
 * so /metrics reveals nothing about any one tenant.
 */
export class Metrics {
  readonly registry = new Registry();
  readonly ingested = new Counter({ name: 'meterhouse_ingest_events_total', help: 'Events answered by POST /v1/events, by outcome', labelNames: ['outcome'] as const, registers: [this.registry] });
  private readonly produced = new Counter({ name: 'meterhouse_kafka_produced_total', help: 'Events sent to the Kafka producer', registers: [this.registry] });
  private readonly acknowledged = new Counter({ name: 'meterhouse_kafka_acknowledged_total', help: 'Events the broker acknowledged (acks=all)', registers: [this.registry] });
  private readonly failed = new Counter({ name: 'meterhouse_kafka_failed_total', help: 'Events not acknowledged (answered 503)', registers: [this.registry] });

  readonly produceCounters: ProduceCounters = {
    produced: (n) => this.produced.inc(n),
    acknowledged: (n) => this.acknowledged.inc(n),
    failed: (n) => this.failed.inc(n),
  };

  constructor(db: Db, logger: Logger, admin?: KafkaAdmin) {
    const registers = [this.registry];
    new Gauge({
      name: 'meterhouse_dead_letters',
      help: 'Dead letters stored, by state (pending: not replayed yet)',
      labelNames: ['state'] as const,
      registers,
      async collect() {
        try {
          const [counts] = await deadLetterCounts(db, {}, { job: 'metrics' });
          this.set({ state: 'pending' }, counts?.pending ?? 0);
          this.set({ state: 'replayed' }, counts?.replayed ?? 0);
        } catch (error) {
          logger.warn({ err: error instanceof Error ? error.message : String(error) }, 'metrics: dead letters unavailable');
        }
      },
    });
    if (!admin) return;
    // Registered after the lag gauge: a scrape collects in registration order, so this reports the scrape's own reading.
    const known = new Gauge({ name: 'meterhouse_kafka_consumer_lag_known', help: '1 when the consumer lag could be read from the broker' });
    new Gauge({
      name: 'meterhouse_kafka_consumer_lag',
      help: 'Messages in the topic not yet committed by the ClickHouse consumer group, per partition',
      labelNames: ['partition'] as const,
      registers,
      async collect() {
        this.reset();
        try {
          for (const { partition, lag } of await admin.consumerLag()) this.set({ partition: String(partition) }, lag);
          known.set(1);
        } catch {
          known.set(0);
        }
      },
    });
    this.registry.registerMetric(known);
  }
}
