import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Db } from '../sql/query.js';
import type { ProduceCounters } from '../ingest/kafka-sink.js';
import type { KafkaAdmin } from '../ingest/kafka-admin.js';
import { deadLetterCounts } from '../sql/queries/dead-letters.js';
import type { Logger } from './logger.js';
import { TenantLabels } from './metrics/tenant-labels.js';
import { httpLatency } from './metrics/http.js';

/**
 * Prometheus metrics of one process (its own registries, so several runtimes
 * in one test process never clash). `registry` holds totals only (no tenant
 * or customer labels): any scraper may read it. `tenantRegistry` holds the
 * series labelled by tenant (bounded by TenantLabels), served only to a scrape
 * that presents the operator key.
 */
export class Metrics {
  readonly registry = new Registry();
  readonly tenantRegistry = new Registry();
  readonly tenantLabels: TenantLabels;
  readonly http = httpLatency(this.registry);
  private readonly ingestedByTenant = new Counter({
    name: 'meterhouse_ingest_tenant_events_total',
    help: 'Events answered by POST /v1/events, by tenant (bounded) and outcome',
    labelNames: ['tenant', 'outcome'] as const,
    registers: [this.tenantRegistry],
  });
  /** Time from handing a request's valid events to the sink until all are durable (the writer's batch wait and insert, or the Kafka ack). */
  readonly durable = new Histogram({
    name: 'meterhouse_ingest_durable_seconds',
    help: "Seconds until a request's events were durable (writer batch wait + insert, or Kafka acks=all)",
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  readonly ingested = new Counter({
    name: 'meterhouse_ingest_events_total',
    help: 'Events answered by POST /v1/events, by outcome',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  private readonly produced = new Counter({ name: 'meterhouse_kafka_produced_total', help: 'Events sent to the Kafka producer', registers: [this.registry] });
  private readonly acknowledged = new Counter({
    name: 'meterhouse_kafka_acknowledged_total',
    help: 'Events the broker acknowledged (acks=all)',
    registers: [this.registry],
  });
  private readonly failed = new Counter({ name: 'meterhouse_kafka_failed_total', help: 'Events not acknowledged (answered 503)', registers: [this.registry] });

  readonly produceCounters: ProduceCounters = {
    produced: (n) => this.produced.inc(n),
    acknowledged: (n) => this.acknowledged.inc(n),
    failed: (n) => this.failed.inc(n),
  };

  /** One request's answer: totals, and the same by (bounded) tenant. */
  countIngest(tenantId: string, counts: Record<'accepted' | 'duplicate' | 'rejected', number>): void {
    const tenant = this.tenantLabels.of(tenantId);
    for (const [outcome, n] of Object.entries(counts)) {
      if (n === 0) continue;
      this.ingested.inc({ outcome }, n);
      this.ingestedByTenant.inc({ tenant, outcome }, n);
    }
  }

  constructor(db: Db, logger: Logger, admin?: KafkaAdmin, options: { maxTenantLabels?: number; queued?: () => number; tiersFilling?: () => number } = {}) {
    const registers = [this.registry];
    this.tenantLabels = new TenantLabels(options.maxTenantLabels ?? 100);
    // process_cpu_seconds_total, process_resident_memory_bytes, nodejs_eventloop_lag_seconds, heap, GC.
    collectDefaultMetrics({ register: this.registry });
    const queued = options.queued;
    new Gauge({
      name: 'meterhouse_writer_queued_events',
      help: 'Events waiting in, or being written by, the direct writer (0 on the Kafka path)',
      registers,
      collect() {
        this.set(queued?.() ?? 0);
      },
    });
    const tiersFilling = options.tiersFilling;
    new Gauge({
      name: 'meterhouse_rollup_tiers_filling',
      help: 'Rollup tiers whose grown retention a full reconciliation has not filled yet: reads take them only where they are complete',
      registers,
      collect() {
        this.set(tiersFilling?.() ?? 0);
      },
    });
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
    for (const outcome of ['accepted', 'duplicate', 'rejected']) this.ingested.inc({ outcome }, 0);
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
