import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Producer } from 'kafkajs';
import { z } from 'zod';
import { now } from './clock.js';
import { ALL_TIME, engine, newTenant } from './harness.js';
import { startKafkaBroker, type KafkaBroker } from './kafka-broker.js';
import { closeKafkaEngine, connectedProducer } from './kafka-fixture.js';
import { waitFor } from './wait.js';
import { fromUnits, toUnits } from './oracle.js';
import { runQuery } from '../sql/query.js';
import { TABLES } from '../sql/names.js';
import { kafkaSourceDdl } from '../sql/datasets/kafka-ingest.js';

/**
 * More than one of the engine's Kafka consumers (`KAFKA_CONSUMERS`), each with a thread of its own
 * (`kafka_thread_per_consumer`): every partition is consumed, every event counts once, every malformed
 * message is one dead letter. The real engine and the Kafka-protocol test broker.
 */
const TOPIC = 'usage_events_consumers';
const PARTITIONS = 4;
let broker: KafkaBroker;
let producer: Producer;

beforeAll(async () => {
  broker = await startKafkaBroker({ topics: [`${TOPIC}:${PARTITIONS}`] });
  await engine({
    KAFKA_BROKERS: broker.bootstrap,
    KAFKA_TOPIC: TOPIC,
    KAFKA_CONSUMERS: '2',
    KAFKA_FLUSH_INTERVAL_MS: '200',
    KAFKA_POLL_TIMEOUT_MS: '200',
  });
  producer = await connectedProducer(broker);
}, 120_000);

afterAll(async () => {
  await closeKafkaEngine(producer, broker);
}, 60_000);

describe('Kafka ingest with two consumers', () => {
  it('renders the thread per consumer only for more than one consumer: a one-consumer chain keeps its DDL, so it is not rebuilt', () => {
    const options = { brokers: 'b:9092', topic: 't', group: 'g', maxBlockSize: 65_536, flushIntervalMs: 500, pollTimeoutMs: 500 };
    const [one] = kafkaSourceDdl({ database: 'd' }, { ...options, consumers: 1 }, 'c');
    const [two] = kafkaSourceDdl({ database: 'd' }, { ...options, consumers: 2 }, 'c');
    expect(one).not.toContain('kafka_thread_per_consumer');
    expect(two).toContain('kafka_num_consumers = 2,');
    expect(two).toContain('kafka_poll_timeout_ms = 500,\n    kafka_thread_per_consumer = 1\n');
    expect(two!.replace(',\n    kafka_thread_per_consumer = 1', '').replace('kafka_num_consumers = 2', 'kafka_num_consumers = 1')).toBe(one);
  });

  it('creates the Kafka table with two consumers, each on a thread of its own', async () => {
    const { db } = (await engine()).deps;
    const [table] = await runQuery(
      db,
      'test.kafka_table',
      `SELECT engine_full FROM system.tables WHERE database = {d:String} AND name = {n:String}`,
      { d: db.database, n: TABLES.kafkaUsageEvents },
      z.object({ engine_full: z.string() }),
    );
    expect(table?.engine_full).toMatch(/\bkafka_num_consumers = 2\b/);
    expect(table?.engine_full).toMatch(/\bkafka_thread_per_consumer = 1\b/);
  });

  it('consumes every partition: events produced straight into the topic count once, redeliveries included, and each malformed message is one dead letter', async () => {
    const t = await newTenant();
    const t0 = now() - 3_600_000;
    const events = Array.from({ length: 2_000 }, (_, i) => ({
      tenantId: t.tenantId,
      eventId: `e-${i}`,
      customerId: `c${i % 101}`,
      metricName: 'api.calls',
      quantity: `${i % 13}.${String(i % 1000).padStart(3, '0')}`,
      timestamp: t0 + i,
    }));
    const malformed = Array.from({ length: 20 }, (_, i) => JSON.stringify({ tenantId: t.tenantId, eventId: `m-${i}`, metricName: 'api.calls' }));
    const messages = [...events.map((e) => JSON.stringify(e)), ...malformed, ...events.slice(0, 300).map((e) => JSON.stringify(e))].map((value, i) => ({
      key: `${t.tenantId}:${i % 101}`,
      value,
    }));
    for (let i = 0; i < messages.length; i += 250) await producer.send({ topic: TOPIC, acks: -1, messages: messages.slice(i, i + 250) });

    const expected = { events: events.length, quantity: fromUnits(events.reduce((sum, e) => sum + toUnits(e.quantity), 0n)) };
    let total: { events: number; quantity: string } | undefined;
    await waitFor(
      'every event in the summary',
      async () => {
        const rows = (await t.json('GET', `/v1/usage/summary?${ALL_TIME}&limit=1000`)).body.data as { quantity: string; events: number }[];
        total = { events: rows.reduce((n, r) => n + r.events, 0), quantity: fromUnits(rows.reduce((sum, r) => sum + toUnits(r.quantity), 0n)) };
        return total.events >= expected.events;
      },
      60_000,
      () => total,
    );
    expect(total).toEqual(expected);

    let letters = 0;
    await waitFor(
      'the dead letters',
      async () => (letters = ((await t.json('GET', '/v1/dead-letters?limit=1000')).body.data as unknown[]).length) >= malformed.length,
      30_000,
      () => letters,
    );
    expect(letters).toBe(malformed.length);

    const { db } = (await engine()).deps;
    const partitions = await runQuery(
      db,
      'test.partitions',
      `SELECT DISTINCT kafka_partition AS p FROM ${db.database}.${TABLES.usageEvents} WHERE tenant_id = {t:String} ORDER BY p`,
      { t: t.tenantId },
      z.object({ p: z.coerce.number() }),
    );
    expect(partitions.map((r) => r.p)).toEqual([0, 1, 2, 3]);
    // Both consumers read: the group gave each of them partitions of its own.
    const consumers = await runQuery(
      db,
      'test.consumers',
      `SELECT toUInt64(num_messages_read) AS n FROM system.kafka_consumers WHERE database = {d:String} AND table = {n:String}`,
      { d: db.database, n: TABLES.kafkaUsageEvents },
      z.object({ n: z.coerce.number() }),
    );
    expect(consumers).toHaveLength(2);
    for (const c of consumers) expect(c.n).toBeGreaterThan(0);
  }, 120_000);
});
