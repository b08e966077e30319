import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Kafka, Partitioners, logLevel } from 'kafkajs';
import type { Admin, Consumer, Producer } from 'kafkajs';
import { startKafkaBroker, type KafkaBroker } from './kafka-broker.js';
import { waitFor } from './wait.js';

/**
 * The Kafka test broker (librdkafka mock cluster + meterhouse patches) with
 * KafkaJS, the way ingest uses it: an idempotent acks=all producer, and a
 * consumer group that must resume from its committed offsets after a restart.
 */

const TOPIC = 'usage_events_test';
const PARTITIONS = 3;
const KEYS = ['tenant-a', 'tenant-b', 'tenant-c', 'tenant-d', 'tenant-e', 'tenant-f', 'tenant-g', 'tenant-h'];
const FIRST = 20_000;
const SECOND = 1_000;
const BATCH = 1_000;
// 20k x 1 KiB puts more than the stock mock's 5 MiB per-partition retention
// into a partition, so this also guards the retention patch.
const VALUE_BYTES = 1024;
const STOCK_MOCK_RETENTION_BYTES = 5 * 1024 * 1024;

let broker: KafkaBroker | undefined;
let kafka: Kafka;
const cleanups: (() => Promise<void>)[] = [];

beforeAll(async () => {
  // The first run builds librdkafka (~40 s); later runs use .cache/kafka-broker/.
  broker = await startKafkaBroker({ topics: [{ name: TOPIC, partitions: PARTITIONS }] });
  kafka = new Kafka({ clientId: 'meterhouse-kafka-broker-test', brokers: broker.brokers, logLevel: logLevel.NOTHING });
}, 240_000);

afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  await broker?.stop();
});

function keyOf(seq: number): string {
  return KEYS[seq % KEYS.length] as string;
}

function message(seq: number): { key: string; value: string } {
  return { key: keyOf(seq), value: `${seq}:`.padEnd(VALUE_BYTES, '.') };
}

async function produce(producer: Producer, from: number, count: number): Promise<void> {
  for (let start = from; start < from + count; start += BATCH) {
    const messages = [];
    for (let seq = start; seq < Math.min(start + BATCH, from + count); seq++) messages.push(message(seq));
    await producer.send({ topic: TOPIC, acks: -1, messages });
  }
}

interface Collector {
  consumer: Consumer;
  /** seq -> times delivered */
  seen: Map<number, number>;
  delivered: number;
  bytesByPartition: Map<number, number>;
  partitionsByKey: Map<string, Set<number>>;
  /** Deliveries whose seq was not greater than the previous one of the same key. */
  outOfOrder: number;
  joinedAfterMs?: number;
}

async function startCollector(groupId: string): Promise<Collector> {
  const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 250 });
  const c: Collector = { consumer, seen: new Map(), delivered: 0, bytesByPartition: new Map(), partitionsByKey: new Map(), outOfOrder: 0 };
  const lastByKey = new Map<string, number>();
  cleanups.push(() => consumer.disconnect());
  const started = Date.now();
  consumer.on(consumer.events.GROUP_JOIN, () => {
    c.joinedAfterMs ??= Date.now() - started;
  });
  await consumer.connect();
  await consumer.subscribe({ topic: TOPIC, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ partition, message: m }) => {
      const key = m.key?.toString() ?? '';
      const value = m.value?.toString() ?? '';
      const seq = Number(value.slice(0, value.indexOf(':')));
      c.delivered++;
      c.seen.set(seq, (c.seen.get(seq) ?? 0) + 1);
      c.bytesByPartition.set(partition, (c.bytesByPartition.get(partition) ?? 0) + value.length);
      const partitions = c.partitionsByKey.get(key) ?? new Set<number>();
      partitions.add(partition);
      c.partitionsByKey.set(key, partitions);
      if ((lastByKey.get(key) ?? -1) >= seq) c.outOfOrder++;
      lastByKey.set(key, seq);
    },
  });
  return c;
}

/** Offsets the group has committed vs. the log end, per partition. */
async function commitLag(admin: Admin, groupId: string): Promise<number> {
  const [ends, committed] = await Promise.all([admin.fetchTopicOffsets(TOPIC), admin.fetchOffsets({ groupId, topics: [TOPIC] })]);
  const done = new Map((committed[0]?.partitions ?? []).map((p) => [p.partition, Number(p.offset)]));
  return ends.reduce((lag, p) => lag + Number(p.high) - Math.max(0, done.get(p.partition) ?? 0), 0);
}

function expectExactly(seen: Map<number, number>, from: number, count: number): void {
  const missing: number[] = [];
  const duplicated: number[] = [];
  for (let seq = from; seq < from + count; seq++) {
    const n = seen.get(seq) ?? 0;
    if (n === 0) missing.push(seq);
    if (n > 1) duplicated.push(seq);
  }
  const foreign = [...seen.keys()].filter((seq) => seq < from || seq >= from + count);
  expect({ missing: missing.slice(0, 10), missingCount: missing.length, duplicated: duplicated.slice(0, 10), foreign: foreign.slice(0, 10) }).toEqual({
    missing: [],
    missingCount: 0,
    duplicated: [],
    foreign: [],
  });
  expect(seen.size).toBe(count);
}

describe('kafka test broker', () => {
  it('takes idempotent acks=all produce and delivers exactly once to a group that resumes from committed offsets', async () => {
    const groupId = `meterhouse-test-${Date.now()}`;
    const admin = kafka.admin();
    await admin.connect();
    cleanups.push(() => admin.disconnect());

    const topics = await admin.fetchTopicMetadata({ topics: [TOPIC] });
    expect(topics.topics[0]?.partitions).toHaveLength(PARTITIONS);

    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    cleanups.push(() => producer.disconnect());

    // --- 20,000 messages, consumed exactly once -----------------------------------------
    let t = Date.now();
    await produce(producer, 0, FIRST);
    const produceMs = Date.now() - t;

    const ends = await admin.fetchTopicOffsets(TOPIC);
    expect(ends.reduce((n, p) => n + Number(p.high), 0)).toBe(FIRST);
    // Nothing was dropped from the front of any partition's log.
    expect(ends.map((p) => Number(p.low))).toEqual(ends.map(() => 0));

    t = Date.now();
    const first = await startCollector(groupId);
    await waitFor(
      `${FIRST} deliveries`,
      () => first.delivered >= FIRST,
      30_000,
      () => ({ delivered: first.delivered }),
    );
    const consumeMs = Date.now() - t;
    await waitFor('the group to commit everything', async () => (await commitLag(admin, groupId)) === 0, 15_000);

    expect(first.delivered).toBe(FIRST);
    expectExactly(first.seen, 0, FIRST);
    expect(first.outOfOrder).toBe(0);
    // Each key lives in one partition, and the keys cover all partitions.
    for (const [key, partitions] of first.partitionsByKey) expect([key, partitions.size]).toEqual([key, 1]);
    expect(new Set([...first.partitionsByKey.values()].flatMap((s) => [...s])).size).toBe(PARTITIONS);
    expect(Math.max(...first.bytesByPartition.values())).toBeGreaterThan(STOCK_MOCK_RETENTION_BYTES);

    const mb = (FIRST * VALUE_BYTES) / 1024 / 1024;
    console.log(
      `kafka-broker: produced ${FIRST} x ${VALUE_BYTES} B (${mb.toFixed(1)} MiB) idempotent acks=all in ${produceMs} ms ` +
        `(${Math.round(FIRST / (produceMs / 1000))} msg/s); consumed in ${consumeMs} ms incl. group join ` +
        `(${Math.round(FIRST / (consumeMs / 1000))} msg/s); first join ${first.joinedAfterMs} ms`,
    );

    // --- restart: a new member of the same group resumes where the old one committed -----
    t = Date.now();
    await first.consumer.disconnect();
    const disconnectMs = Date.now() - t;

    const second = await startCollector(groupId);
    await produce(producer, FIRST, SECOND);
    await waitFor(
      `${SECOND} deliveries to the new consumer`,
      () => second.delivered >= SECOND,
      15_000,
      () => ({ delivered: second.delivered }),
    );
    await waitFor('the group to commit everything', async () => (await commitLag(admin, groupId)) === 0, 15_000);

    expect(second.delivered).toBe(SECOND);
    expectExactly(second.seen, FIRST, SECOND);
    expect(second.outOfOrder).toBe(0);
    // The group was Empty after the old member left, so the new one is not held
    // back for the old member's session timeout (KafkaJS default 30 s).
    expect(second.joinedAfterMs).toBeDefined();
    expect(second.joinedAfterMs).toBeLessThan(5_000);
    console.log(
      `kafka-broker: old consumer left in ${disconnectMs} ms; new consumer joined in ${second.joinedAfterMs} ms and got exactly the ${SECOND} new messages`,
    );
  }, 60_000);
});
