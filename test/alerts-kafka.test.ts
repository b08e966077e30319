import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Producer } from 'kafkajs';
import { now } from './clock.js';
import { engine, newTenant } from './harness.js';
import { startKafkaBroker, type KafkaBroker } from './kafka-broker.js';
import { closeKafkaEngine, connectedProducer } from './kafka-fixture.js';
import { waitFor } from './wait.js';
import { TABLES } from '../sql/names.js';
import { SumOracle, acknowledgedCount, createRule, crossings, reachedThresholds, startReceiver, useReceiver, type Receiver } from './alerts-fixture.js';

/**
 * The Kafka path has no flush in this process: the sweep (here every second)
 * finds its crossings. Redeliveries of one eventId reach the rollups as extra
 * rows (reconciliation is off here, so the inflation stays); the alert
 * evaluates the deduplicated value and never fires on the inflated one.
 * Not in TIME_SENSITIVE: the Kafka views check event time against the engine's
 * clock, which the calendar projects cannot move (INFRA.md "Clocks"), so events
 * stamped at a calendar instant would be dead letters. At the real time, the
 * current period holds its events at any date.
 */
const TOPIC = 'usage_events_alerts';
let broker: KafkaBroker;
let producer: Producer;
let receiver: Receiver;

beforeAll(async () => {
  receiver = await startReceiver();
  broker = await startKafkaBroker({ topics: [`${TOPIC}:2`] });
  const r = await engine({
    KAFKA_BROKERS: broker.bootstrap,
    KAFKA_TOPIC: TOPIC,
    KAFKA_FLUSH_INTERVAL_MS: '200',
    KAFKA_POLL_TIMEOUT_MS: '200',
    KAFKA_PRODUCE_TIMEOUT_MS: '2000',
    ALERTS_SWEEP_CRON: '* * * * * *',
    BILLING_CLOSE_CRON: '0 0 1 1 *',
    ROLLUP_RECONCILE_CRON: '0 0 1 1 *',
    BILLING_WEBHOOK_POLL_MS: '20',
  });
  r.startJobs();
  producer = await connectedProducer(broker);
}, 120_000);

afterAll(async () => {
  await closeKafkaEngine(producer, broker);
  await receiver?.close();
}, 60_000);

it('fires on the exact value of events consumed from Kafka, never on a rollup inflated by redeliveries', async () => {
  const t = await newTenant();
  await useReceiver(t, receiver);
  expect((await t.json('POST', '/v1/meters', { body: { key: 'calls', metricName: 'api.calls', aggregation: 'SUM' } })).status).toBe(201);
  const thresholds = ['10', '20'];
  await createRule(t, { meterKey: 'calls', thresholds, window: 'period' });
  const ev = (eventId: string, quantity: string) => ({ eventId, customerId: 'c1', metricName: 'api.calls', timestamp: now() - 60_000, quantity });
  const oracle = new SumOracle();
  const sent = [ev('k1', '6'), ev('k2', '6'), ev('k1', '6'), ev('k1', '6')];
  oracle.send(sent);
  // one message per send: each redelivery is a block of its own, so the rollup views count it
  for (const e of sent) await producer.send({ topic: TOPIC, acks: -1, messages: [{ key: 'c1', value: JSON.stringify({ tenantId: t.tenantId, ...e }) }] });

  const db = (await engine()).deps.db;
  const rollupSum = async () => {
    const res = await db.client.query({
      query: `SELECT toString(sum(quantity_sum)) AS s FROM ${db.database}.${TABLES.usagePerMinute} WHERE tenant_id = {t:String}`,
      query_params: { t: t.tenantId },
      format: 'JSONEachRow',
    });
    return ((await res.json()) as { s: string }[])[0]!.s;
  };
  await waitFor('every redelivery in the rollup', async () => Number(await rollupSum()) >= 24, 30_000);
  expect(oracle.value('c1')).toBe('12');
  const [d] = await acknowledgedCount(receiver, t.tenantId, 1, 30_000);
  expect(d!.alert).toMatchObject({ threshold: '10', value: '12' });
  // a sweep after every redelivery was stored: still only what the exact value reached
  expect((await t.json('POST', '/v1/alerts/evaluate')).body.crossings).toBe(0);
  expect((await crossings(t)).map((e) => e.threshold)).toEqual(reachedThresholds(oracle.value('c1'), thresholds));
}, 90_000);
