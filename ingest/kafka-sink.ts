import { Kafka, logLevel, type Producer, type LogEntry } from 'kafkajs';
import type { Db } from '../sql/query.js';
import { memoizedDefaultPartitioner } from './kafka-partitioner.js';
import type { EventRow } from './normalise.js';
import { outcomesOf, WriterClosedError, type EventSink, type WriteOutcome } from './writer.js';

/** The broker did not acknowledge in time: nothing of the request is durable (answer 503, Retry-After). */
export class KafkaUnavailableError extends Error {
  override readonly name = 'KafkaUnavailableError';
  readonly retryAfterSeconds = 2;
}

export interface ProduceCounters {
  produced(n: number): void;
  acknowledged(n: number): void;
  failed(n: number): void;
}

export interface KafkaSinkOptions {
  brokers: string[];
  clientId: string;
  topic: string;
  /** A request waits at most this long for the broker's acknowledgement. */
  produceTimeoutMs: number;
  counters?: ProduceCounters;
  log?: (level: 'warn' | 'error', message: string, fields: Record<string, unknown>) => void;
}

/**
 * The message value: the event contract plus tenantId, exactly what another
 * service may produce into the topic itself. The timestamp is always set (the
 * receive time when the client gave none), so a redelivered message carries
 * the same event time and lands in the same partition of usage_events.
 */
export function messageOf(row: EventRow): Record<string, unknown> {
  const metadata = Object.fromEntries(
    Object.entries({ source: row.source, version: row.source_version, requestId: row.request_id }).filter(([, v]) => v !== ''),
  );
  return {
    tenantId: row.tenant_id,
    eventId: row.event_id,
    timestamp: row.timestamp,
    customerId: row.customer_id,
    ...(row.product_id ? { productId: row.product_id } : {}),
    metricName: row.metric_name,
    quantity: row.quantity,
    ...(Object.keys(row.dimensions).length > 0 ? { dimensions: row.dimensions } : {}),
    ...(Object.keys(metadata).length > 0 ? { metadata } : {}),
  };
}

/**
 * Messages per KafkaJS send. KafkaJS groups a send's messages by partition by copying each partition's array once per
 * message (`producer/groupMessagesPerPartition.js`), so one send costs time quadratic in its size: with 10,000-event
 * requests it was about a quarter of the sink's CPU, on the API's event loop. Sends of at most this many, one after
 * another (each customer's events stay in order on their partition), keep the cost per message bounded whatever
 * MAX_EVENTS_PER_REQUEST allows; each send is one more round trip to the broker (docs/benchmarks.md, "The API's Kafka
 * sends in chunks").
 */
export const SEND_CHUNK = 1_000;

const LEVELS: Partial<Record<number, 'warn' | 'error'>> = { [logLevel.ERROR]: 'error', [logLevel.WARN]: 'warn' };

/**
 * The Kafka ingest path of the API: events already stored or repeated within
 * the request are answered 'duplicate' (the same lookup as the direct writer);
 * the rest are produced with an idempotent producer and acks=all, keyed
 * `tenant:customerId` so one customer's events stay in order on one partition.
 * `write` resolves only after the broker acknowledged every message.
 *
 * The producer connects lazily and, after any failure, reconnects on the next
 * write: a broker that comes back is used again without a restart.
 */
export class KafkaSink implements EventSink {
  private readonly kafka: Kafka;
  private producer: Producer | undefined;
  private connecting: Promise<Producer> | undefined;
  private inFlight = new Set<Promise<unknown>>();
  private closed = false;

  constructor(
    private readonly db: Db,
    private readonly options: KafkaSinkOptions,
  ) {
    const log = options.log;
    this.kafka = new Kafka({
      clientId: options.clientId,
      brokers: options.brokers,
      connectionTimeout: Math.min(3000, options.produceTimeoutMs),
      requestTimeout: options.produceTimeoutMs,
      retry: { retries: 3, initialRetryTime: 100, maxRetryTime: 1000 },
      logLevel: logLevel.WARN,
      logCreator: () => (entry: LogEntry) => {
        const level = LEVELS[entry.level];
        // KafkaJS log entries carry broker addresses and error text, never message values or credentials.
        if (level && log) log(level, `kafka: ${entry.log.message}`, { namespace: entry.namespace, broker: entry.log.broker, error: entry.log.error });
      },
    });
  }

  async write(rows: readonly EventRow[]): Promise<WriteOutcome[]> {
    if (this.closed) throw new WriterClosedError('the writer is shutting down');
    const outcomes = await outcomesOf(this.db, rows, 'ingest.kafka');
    const fresh = rows.filter((_, i) => outcomes[i] === 'accepted');
    if (fresh.length > 0) await this.track(this.produce(fresh));
    return outcomes;
  }

  /** Wait for sends in flight, then disconnect. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.allSettled([...this.inFlight]);
    const producer = this.producer;
    this.producer = undefined;
    await producer?.disconnect().catch(() => {});
  }

  private async track<T>(p: Promise<T>): Promise<T> {
    this.inFlight.add(p);
    try {
      return await p;
    } finally {
      this.inFlight.delete(p);
    }
  }

  private connect(): Promise<Producer> {
    if (this.producer) return Promise.resolve(this.producer);
    this.connecting ??= (async () => {
      // The default (Java-compatible murmur2) partitioner, each key's answer remembered: a key's partition is the
      // one any Kafka client would pick.
      const producer = this.kafka.producer({
        idempotent: true,
        maxInFlightRequests: 1,
        allowAutoTopicCreation: true,
        createPartitioner: memoizedDefaultPartitioner(),
        // Bounded retries: a request must be answered within KAFKA_PRODUCE_TIMEOUT_MS. A retry the
        // broker already stored is a duplicate that FINAL and the reconciler absorb.
        retry: { retries: 3, initialRetryTime: 100, maxRetryTime: 1000 },
      });
      try {
        await producer.connect();
        this.producer = producer;
        return producer;
      } catch (error) {
        await producer.disconnect().catch(() => {});
        throw error;
      } finally {
        this.connecting = undefined;
      }
    })();
    return this.connecting;
  }

  private async produce(rows: EventRow[]): Promise<void> {
    const counters = this.options.counters;
    counters?.produced(rows.length);
    let timer: NodeJS.Timeout | undefined;
    let abandoned = false;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no acknowledgement within ${this.options.produceTimeoutMs} ms`)), this.options.produceTimeoutMs);
    });
    try {
      const send = this.connect().then(async (producer) => {
        for (let from = 0; from < rows.length && !abandoned; from += SEND_CHUNK) {
          await producer.send({
            topic: this.options.topic,
            acks: -1,
            timeout: this.options.produceTimeoutMs,
            messages: rows.slice(from, from + SEND_CHUNK).map((row) => ({
              key: `${row.tenant_id}:${row.customer_id}`,
              value: JSON.stringify(messageOf(row)),
              timestamp: String(row.ingested_at),
            })),
          });
        }
      });
      send.catch(() => {}); // settled below or abandoned after the deadline
      await Promise.race([send, deadline]);
      counters?.acknowledged(rows.length);
    } catch (error) {
      abandoned = true; // answered 503: no further send of this request starts
      counters?.failed(rows.length);
      this.options.log?.('warn', 'kafka produce failed; the request is answered 503', {
        events: rows.length,
        error: error instanceof Error ? error.message : String(error),
      });
      // Start from a fresh connection next time: the old one may be half broken.
      const producer = this.producer;
      this.producer = undefined;
      void producer?.disconnect().catch(() => {});
      throw new KafkaUnavailableError('the event broker did not acknowledge; nothing was acknowledged, retry shortly', { cause: error });
    } finally {
      clearTimeout(timer);
    }
  }
}
