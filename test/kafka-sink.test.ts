import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Kafka, logLevel, type Consumer } from 'kafkajs';
import { now } from './clock.js';
import { closeEngine, engine, eventRow } from './harness.js';
import { startKafkaBroker, type KafkaBroker } from './kafka-broker.js';
import { waitFor } from './wait.js';
import { KafkaSink, SEND_CHUNK } from '../ingest/kafka-sink.js';

/**
 * The API's Kafka sink sends a request's events in sends of at most SEND_CHUNK messages: KafkaJS groups a
 * send's messages by partition in time quadratic in the send's size (docs/benchmarks.md, "The API's Kafka
 * sends in chunks"). Every event of the request is produced once, and each customer's events keep the
 * request's order on their partition. The real engine (the sink's duplicate lookup) and the Kafka-protocol
 * test broker.
 */
const TOPIC = 'usage_events_sink';
const PARTITIONS = 2;
let broker: KafkaBroker;
let consumer: Consumer | undefined;

beforeAll(async () => {
  broker = await startKafkaBroker({ topics: [`${TOPIC}:${PARTITIONS}`] });
  await engine();
}, 120_000);

afterAll(async () => {
  await consumer?.disconnect();
  await closeEngine();
  await broker?.stop();
}, 60_000);

interface Received {
  partition: number;
  eventId: string;
  customerId: string;
  /** The first offset of the record batch (one send's messages for one partition) the message came in. */
  batch: string;
}

/** Every message of the topic from the beginning, until `count` have arrived. */
async function consumeAll(count: number): Promise<Received[]> {
  const received: Received[] = [];
  consumer = new Kafka({ brokers: broker.brokers, logLevel: logLevel.NOTHING }).consumer({ groupId: `sink-test-${now()}` });
  await consumer.connect();
  await consumer.subscribe({ topic: TOPIC, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ partition, message }) => {
      const value = JSON.parse(message.value!.toString()) as { eventId: string; customerId: string };
      const { batchContext } = message as unknown as { batchContext: { firstOffset: string } };
      received.push({ partition, eventId: value.eventId, customerId: value.customerId, batch: `${partition}:${batchContext.firstOffset}` });
    },
  });
  await waitFor(
    `${count} messages`,
    () => received.length >= count,
    60_000,
    () => received.length,
  );
  return received;
}

describe('the API Kafka sink', () => {
  it('produces a request of more than one send each event once, in sends of at most SEND_CHUNK, every customer in the order of the request', async () => {
    const { db } = (await engine()).deps;
    const tenantId = `sink-${now()}`;
    const t = now();
    const events = 2 * SEND_CHUNK + 500;
    const rows = Array.from({ length: events }, (_, i) => eventRow(tenantId, `e-${i}`, t - i, { customer_id: `c${i % 5}` }));
    const sink = new KafkaSink(db, { brokers: broker.brokers, clientId: 'sink-test', topic: TOPIC, produceTimeoutMs: 30_000 });
    try {
      const outcomes = await sink.write(rows);
      expect(outcomes.filter((o) => o === 'accepted')).toHaveLength(events);
    } finally {
      await sink.close();
    }

    const received = await consumeAll(events);
    expect(received).toHaveLength(events);
    expect(new Set(received.map((r) => r.eventId)).size).toBe(events);

    // Each customer's events, on its one partition, in the request's order.
    for (let c = 0; c < 5; c++) {
      const mine = received.filter((r) => r.customerId === `c${c}`);
      expect(new Set(mine.map((r) => r.partition)).size).toBe(1);
      expect(mine.map((r) => r.eventId)).toEqual(rows.filter((r) => r.customer_id === `c${c}`).map((r) => r.event_id));
    }

    // One record batch per send and partition: no batch holds more than a send's messages, and it took more than one send.
    const perBatch = new Map<string, number>();
    for (const r of received) perBatch.set(r.batch, (perBatch.get(r.batch) ?? 0) + 1);
    expect(Math.max(...perBatch.values())).toBeLessThanOrEqual(SEND_CHUNK);
    expect(perBatch.size).toBeGreaterThanOrEqual(Math.ceil(events / SEND_CHUNK));
  }, 120_000);
});
