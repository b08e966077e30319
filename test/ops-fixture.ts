import { Kafka, logLevel, type Producer } from 'kafkajs';
import { expect } from 'vitest';
import { createApp } from '../api/app.js';
import type { Runtime } from '../api/runtime.js';
import { DirectWriter } from '../ingest/writer.js';
import { runQuery } from '../sql/query.js';
import { z } from 'zod';
import { engine, newTenant, type TestTenant } from './harness.js';
import { startKafkaBroker, type KafkaBroker } from './kafka-broker.js';
import { now } from './clock.js';
import { waitFor } from './wait.js';

/**
 * A meterhouse that has done an operator's day of work, for the observability
 * tests: events through the direct API writer and through Kafka (the API's
 * producer and another service producing into the topic), duplicates, a
 * rejected event, a Kafka redelivery, a dead letter, a closed period, a
 * rollup reconciliation and a close run.
 *
 * Not in TIME_SENSITIVE: events go through the Kafka engine, whose views
 * check event time against the engine's clock, which the calendar instants do
 * not move (a product clock in 2028 would make every event "in the future"
 * there). Times are relative to now(), so any real date works: 40 days back
 * always lies in a month that ended more than the default grace ago.
 */
export const DAY_MS = 86_400_000;
export const TOPIC = 'usage_events_ops';

export interface OpsWork {
  runtime: Runtime;
  broker: KafkaBroker;
  producer: Producer;
  tenant: TestTenant;
  /** The direct API path (DirectWriter) over the same engine, as an instance without Kafka serves it. */
  direct: ReturnType<typeof createApp>;
  /** Event time of the recent events, and of the closed-period ones (40 days back: its month ended at least 9 days ago). */
  recentMs: number;
  closedMs: number;
  produceRaw(values: unknown[]): Promise<void>;
  directPost(body: unknown): Promise<Response>;
  storedRows(): Promise<{ rows: number; final: number }>;
  runJob(name: 'rollups.reconcile' | 'rollups.compact' | 'billing.close'): Promise<unknown>;
}

export async function startOpsEngine(): Promise<Omit<OpsWork, 'tenant' | 'recentMs' | 'closedMs'> & { stop(): Promise<void> }> {
  const broker = await startKafkaBroker({ topics: [`${TOPIC}:2`] });
  const runtime = await engine({
    KAFKA_BROKERS: broker.bootstrap,
    KAFKA_TOPIC: TOPIC,
    KAFKA_FLUSH_INTERVAL_MS: '200',
    KAFKA_POLL_TIMEOUT_MS: '200',
    KAFKA_PRODUCE_TIMEOUT_MS: '2000',
    BILLING_CUTOFF_LAG_MS: '0',
  });
  const producer = new Kafka({ brokers: broker.brokers, logLevel: logLevel.NOTHING }).producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const writer = new DirectWriter(runtime.deps.db, { batchRows: 1000, flushIntervalMs: 10, maxQueuedEvents: 10_000 });
  const direct = createApp({ ...runtime.deps, writer });
  return {
    runtime,
    broker,
    producer,
    direct,
    async produceRaw(values) {
      await producer.send({ topic: TOPIC, acks: -1, messages: values.map((v) => ({ key: 'ops', value: typeof v === 'string' ? v : JSON.stringify(v) })) });
    },
    directPost: () => Promise.reject(new Error('no tenant yet')),
    storedRows: () => Promise.reject(new Error('no tenant yet')),
    async runJob(name) {
      return runtime.jobs.find((j) => j.name === name)!.run();
    },
    async stop() {
      await producer.disconnect();
      await writer.close();
    },
  };
}

/** The work itself, for a new tenant; resolves once every event and the dead letter are stored (the jobs are the tests' to run). */
export async function doOpsWork(base: Awaited<ReturnType<typeof startOpsEngine>>): Promise<OpsWork> {
  const tenant = await newTenant();
  const { runtime, direct } = base;
  const recentMs = now() - 2 * 3_600_000;
  const closedMs = now() - 40 * DAY_MS;
  const ev = (eventId: string, timestamp: number, quantity = '1') => ({ eventId, customerId: 'c1', metricName: 'api.calls', timestamp, quantity });
  const directPost = (body: unknown) => {
    const raw = JSON.stringify(body);
    return Promise.resolve(
      direct.request('/v1/events', {
        method: 'POST',
        body: raw,
        headers: { authorization: `Bearer ${tenant.adminKey}`, 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(raw)) },
      }),
    );
  };
  const storedRows = async () => {
    // The append-only log: merges of usage_events may already have collapsed a redelivery.
    const [r] = await runQuery(
      runtime.deps.db,
      'test.ops.rows',
      `SELECT count() AS rows, uniqExact(event_id) AS final FROM ${runtime.deps.db.database}.usage_event_log WHERE tenant_id = {t:String}`,
      { t: tenant.tenantId },
      z.object({ rows: z.coerce.number(), final: z.coerce.number() }),
    );
    return r!;
  };

  expect((await tenant.json('POST', '/v1/meters', { body: { key: 'calls', metricName: 'api.calls', aggregation: 'SUM' } })).status).toBe(201);
  // Direct API path: 10 recent events, a repeat in the same request (duplicate), one invalid (rejected); 4 in a closed period.
  const recent = Array.from({ length: 10 }, (_, i) => ev(`d${i}`, recentMs));
  const first = await directPost([...recent, ev('d0', recentMs), { eventId: 'bad' }]);
  expect(first.status).toBe(207);
  expect((await directPost(Array.from({ length: 4 }, (_, i) => ev(`old${i}`, closedMs, '2')))).status).toBe(200);
  // Kafka path through the API's producer: 5 recent events.
  expect((await tenant.json('POST', '/v1/events', { body: Array.from({ length: 5 }, (_, i) => ev(`k${i}`, recentMs)) })).status).toBe(200);
  // Another service producing into the topic: a redelivery of k1 and of d2 (collapsed), and a message that fails validation (dead letter).
  await base.produceRaw([
    { tenantId: tenant.tenantId, ...ev('k1', recentMs) },
    { tenantId: tenant.tenantId, ...ev('d2', recentMs) },
    { tenantId: tenant.tenantId, ...ev('dl-1', recentMs, '-4') },
  ]);
  let seen: unknown;
  await waitFor(
    '21 stored rows of 19 events',
    async () => {
      const r = (seen = await storedRows());
      return r.rows === 21 && r.final === 19;
    },
    30_000,
    () => seen,
  );
  await waitFor('the dead letter', async () => (await tenant.json('GET', '/v1/dead-letters')).body.data.length === 1, 30_000);
  return { ...base, tenant, recentMs, closedMs, directPost, storedRows };
}
