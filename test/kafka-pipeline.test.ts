import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { now } from './clock.js';
import type { Producer } from 'kafkajs';
import { z } from 'zod';
import { ALL_TIME, engine, newTenant, type TestTenant } from './harness.js';
import { startKafkaBroker, type KafkaBroker } from './kafka-broker.js';
import { closeKafkaEngine, connectedProducer } from './kafka-fixture.js';
import { waitFor } from './wait.js';
import { execute, runQuery } from '../sql/query.js';
import { TABLES } from '../sql/names.js';
import { createApp } from '../api/app.js';
import { fromUnits, toUnits } from './oracle.js';
import { kafkaChainOf } from '../api/kafka.js';
import { ensureKafkaPipeline } from '../sql/kafka-pipeline.js';
import { storedIdentities } from '../sql/queries/event-lookup.js';
import { kafkaSourceDdl } from '../sql/datasets/kafka-ingest.js';

/**
 * The Kafka path against the real engine and the Kafka-protocol test broker:
 * the API produces, ClickHouse's Kafka engine consumes, the validating views
 * split valid events from dead letters.
 */
const TOPIC = 'usage_events_pipeline';
const OPERATOR_KEY = 'operator-key-0123456789abcdef0123';
let broker: KafkaBroker;
let producer: Producer;

beforeAll(async () => {
  broker = await startKafkaBroker({ topics: [`${TOPIC}:4`] });
  await engine({
    KAFKA_BROKERS: broker.bootstrap,
    KAFKA_TOPIC: TOPIC,
    KAFKA_FLUSH_INTERVAL_MS: '200',
    KAFKA_POLL_TIMEOUT_MS: '200',
    KAFKA_PRODUCE_TIMEOUT_MS: '2000',
    METERHOUSE_API_KEY: OPERATOR_KEY,
  });
  producer = await connectedProducer(broker);
}, 120_000);

afterAll(async () => {
  await closeKafkaEngine(producer, broker);
}, 60_000);

const ev = (eventId: string, extra: Record<string, unknown> = {}) => ({
  eventId,
  customerId: 'c1',
  metricName: 'api.calls',
  timestamp: Date.now() - 60_000,
  ...extra,
});

async function summaryOf(t: TestTenant) {
  return (await t.json('GET', `/v1/usage/summary?${ALL_TIME}`)).body.data as { customerId: string; metricName: string; quantity: string; events: number }[];
}

async function waitForSummary(t: TestTenant, expected: unknown, timeoutMs = 30_000) {
  let last: unknown;
  await waitFor(
    'the summary',
    async () => JSON.stringify((last = await summaryOf(t))) === JSON.stringify(expected),
    timeoutMs,
    () => last,
  );
}

async function deadLetters(t: TestTenant, key?: string) {
  return (await t.json('GET', '/v1/dead-letters?limit=1000', key ? { key } : {})).body.data as {
    rawMessage: string;
    error: string;
    topic: string;
    partition: number;
    offset: number;
    receivedAt: string;
    replayedAt: string | null;
  }[];
}

async function metricsText(): Promise<string> {
  return (await createApp((await engine()).deps).request('/metrics')).text();
}

async function metricValue(series: string): Promise<number> {
  const text = await metricsText();
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return Number(line?.slice(series.length + 1) ?? NaN);
}

const produceRaw = (values: string[], key = 'k') => producer.send({ topic: TOPIC, acks: -1, messages: values.map((value) => ({ key, value })) });

describe('Kafka ingest', () => {
  it('produces accepted events and answers after the broker acknowledged; ClickHouse consumes them within seconds', async () => {
    const t = await newTenant();
    const started = Date.now();
    const res = await t.json('POST', '/v1/events', { body: [ev('k1', { quantity: '2.5' }), ev('k2', { customerId: 'c2' }), ev('k1'), { eventId: 'bad' }] });
    expect(res.status).toBe(207);
    expect(res.body.results.map((r: { status: string }) => r.status)).toEqual(['accepted', 'accepted', 'duplicate', 'rejected']);
    await waitForSummary(t, [
      { customerId: 'c1', metricName: 'api.calls', quantity: '2.5', events: 1 },
      { customerId: 'c2', metricName: 'api.calls', quantity: '1', events: 1 },
    ]);
    expect(Date.now() - started).toBeLessThan(10_000);
    // Each stored event keeps its place in the log; the message key is tenant:customer.
    const { db } = (await engine()).deps;
    const rows = await runQuery(
      db,
      'test.positions',
      `SELECT event_id, kafka_topic, kafka_partition, kafka_offset FROM ${db.database}.usage_events FINAL WHERE tenant_id = {t:String} ORDER BY event_id`,
      { t: t.tenantId },
      z.object({ event_id: z.string(), kafka_topic: z.string(), kafka_partition: z.coerce.number(), kafka_offset: z.coerce.number() }),
    );
    expect(rows.map((r) => [r.event_id, r.kafka_topic])).toEqual([
      ['k1', TOPIC],
      ['k2', TOPIC],
    ]);
    for (const r of rows) expect(r.kafka_offset).toBeGreaterThanOrEqual(0);
    // Sent again once stored: a duplicate, not produced again. "Stored" is what the API's lookup reads:
    // usage_event_ids, written by a view of its own, whose part the consumer may commit a moment after
    // usage_events' (no transaction spans the two tables), so wait for the lookup to see k1.
    const k1 = [{ tenant_id: t.tenantId, event_id: 'k1' }];
    await waitFor('the lookup to see k1', async () => (await storedIdentities(db, k1)).length === 1, 10_000);
    const again = await t.json('POST', '/v1/events', { body: ev('k1', { quantity: '99' }) });
    expect(again.body.results[0].status).toBe('duplicate');
  });

  it('takes events other services produce straight into the topic, dedupes them, and dead-letters every malformed message with its raw bytes', async () => {
    const t = await newTenant();
    const valid = [ev('p1', { quantity: '1.25' }), ev('p2', { quantity: 3 }), ev('p1', { quantity: '1.25' })].map((e) =>
      JSON.stringify({ tenantId: t.tenantId, ...e }),
    );
    const invalid = [
      JSON.stringify({ tenantId: t.tenantId, eventId: 'x1', metricName: 'api.calls' }), // no customerId
      JSON.stringify({ tenantId: t.tenantId, ...ev('x2', { quantity: 'lots' }) }),
      JSON.stringify({ tenantId: t.tenantId, ...ev('x3', { timestamp: 'yesterday' }) }),
    ];
    await produceRaw([...valid, ...invalid, valid[1]!]);
    await waitForSummary(t, [{ customerId: 'c1', metricName: 'api.calls', quantity: '4.25', events: 2 }]);
    let letters: Awaited<ReturnType<typeof deadLetters>> = [];
    await waitFor(
      'three dead letters',
      async () => (letters = await deadLetters(t)).length === 3,
      20_000,
      () => letters,
    );
    expect(letters.map((l) => l.rawMessage).sort()).toEqual([...invalid].sort());
    const errorOf = (raw: string) => letters.find((l) => l.rawMessage === raw)?.error;
    expect(errorOf(invalid[0]!)).toBe('customerId: is required');
    expect(errorOf(invalid[1]!)).toBe('quantity: must be a decimal number such as "12" or "0.25" (no exponent, no spaces)');
    expect(errorOf(invalid[2]!)).toMatch(/^timestamp: is not a valid instant/);
    for (const l of letters) {
      expect(l.topic).toBe(TOPIC);
      expect(l.offset).toBeGreaterThanOrEqual(0);
      expect(Date.parse(l.receivedAt)).toBeGreaterThan(Date.now() - 60_000);
    }
    // Stored by the chain's views, their identities reach what the API's lookup reads (usage_event_ids): duplicates there.
    // The identities are written by a view of usage_events, after the row (docs/kafka.md): wait for them first.
    const { db } = (await engine()).deps;
    const indexed = async () =>
      (
        await runQuery(
          db,
          'test.indexed',
          `SELECT DISTINCT event_id FROM ${db.database}.${TABLES.usageEventIds} WHERE tenant_id = {t:String} ORDER BY event_id`,
          { t: t.tenantId },
          z.object({ event_id: z.string() }),
        )
      ).map((r) => r.event_id);
    await waitFor('the identities of p1 and p2 in usage_event_ids', async () => (await indexed()).join() === 'p1,p2', 20_000, indexed);
    const viaApi = await t.json('POST', '/v1/events', { body: [ev('p1', { quantity: '7' }), ev('p2')] });
    expect(viaApi.body.results.map((r: { status: string }) => r.status)).toEqual(['duplicate', 'duplicate']);
  });

  it('sums quantities at the contract maximum exactly, from the API and straight from the topic; a 30th digit is refused alike', async () => {
    const t = await newTenant();
    const HOUR = 3_600_000;
    const NINES = '9'.repeat(29);
    const MAX = `${NINES}.999999999`;
    const H = Math.floor((now() - 2 * HOUR) / HOUR) * HOUR;
    const D = H - (H % (24 * HOUR));
    const big = (eventId: string, quantity: string, i: number) => ev(eventId, { quantity, timestamp: H + i * 1000 });
    for (const [key, aggregation] of [
      ['sum', 'SUM'],
      ['avg', 'AVG'],
    ])
      expect((await t.json('POST', '/v1/meters', { body: { key, metricName: 'api.calls', aggregation } })).status).toBe(201);
    const viaApi = await t.json('POST', '/v1/events', { body: [big('a1', NINES, 1), big('a2', NINES, 2), big('a3', MAX, 3)] });
    expect(viaApi.body.accepted).toBe(3);
    const tooBig = big('x', `1${'0'.repeat(29)}`, 9);
    const refused = await t.json('POST', '/v1/events', { body: tooBig });
    expect(refused.body.results[0].errors).toEqual([{ path: 'quantity', message: 'has more than 29 integer digits' }]);
    // Produced in one batch: the engine consumes it as one block, which the rollup views sum at once.
    await produceRaw([big('k1', NINES, 4), big('k2', NINES, 5), big('k3', MAX, 6), tooBig].map((e) => JSON.stringify({ tenantId: t.tenantId, ...e })));
    const sum = [NINES, NINES, MAX, NINES, NINES, MAX].reduce((s, q) => s + toUnits(q), 0n);
    await waitForSummary(t, [{ customerId: 'c1', metricName: 'api.calls', quantity: fromUnits(sum), events: 6 }]);
    // One window each, served by the minute, hour and day rollups. Each view commits its own part after
    // usage_events' (the raw rows can be visible a moment before a rollup's), so each is awaited.
    for (const [from, to, source] of [
      [H, H + HOUR - 60_000, 'usage_per_minute'],
      [H, H + HOUR, 'usage_per_hour'],
      [D, D + 24 * HOUR, 'usage_per_day'],
    ] as const) {
      for (const [key, value] of [
        ['sum', fromUnits(sum)],
        ['avg', fromUnits(sum / 6n)],
      ]) {
        let seen: unknown;
        await waitFor(
          `${key} from ${source}`,
          async () => {
            const res = await t.json('GET', `/v1/meters/${key}/usage?from=${from}&to=${to}&granularity=total`);
            seen = [res.body.meta.source, res.body.data[0].value];
            return JSON.stringify(seen) === JSON.stringify([source, value]);
          },
          20_000,
          () => seen,
        );
      }
    }
    let letters: Awaited<ReturnType<typeof deadLetters>> = [];
    await waitFor(
      'the dead letter',
      async () => (letters = await deadLetters(t)).length === 1,
      20_000,
      () => letters,
    );
    expect(letters[0]!.error).toBe('quantity: has more than 29 integer digits');
  });

  it('shows unattributable messages to the operator only, and replays corrected dead letters once', async () => {
    const t = await newTenant();
    const marker = `garbage-${t.tenantId}`;
    await produceRaw([`{not json ${marker}`, JSON.stringify({ tenantId: t.tenantId, ...ev('fix-me', { quantity: '-4' }) })]);
    let operatorView: Awaited<ReturnType<typeof deadLetters>> = [];
    await waitFor(
      'the unattributable dead letter',
      async () => (operatorView = await deadLetters(t, OPERATOR_KEY)).some((l) => l.rawMessage.includes(marker)),
      20_000,
    );
    const garbage = operatorView.find((l) => l.rawMessage.includes(marker))!;
    expect(garbage.error).toBe('invalid JSON');
    let mine: Awaited<ReturnType<typeof deadLetters>> = [];
    await waitFor("the tenant's dead letter", async () => (mine = await deadLetters(t)).length === 1, 20_000);
    expect(mine[0]!.error).toBe('quantity: must not be negative');
    expect(mine.some((l) => l.rawMessage.includes(marker))).toBe(false);

    // A tenant cannot replay the operator's dead letter; a standard key cannot replay at all.
    const foreign = await t.json('POST', '/v1/dead-letters/replay', {
      body: { deadLetters: [{ topic: garbage.topic, partition: garbage.partition, offset: garbage.offset }] },
    });
    expect(foreign.body.results[0].status).toBe('not_found');
    const standard = await t.json('POST', '/v1/api-keys', { body: { name: 'svc', role: 'standard' } });
    expect((await t.json('GET', '/v1/dead-letters', { key: standard.body.key })).status).toBe(403);

    const item = { topic: mine[0]!.topic, partition: mine[0]!.partition, offset: mine[0]!.offset };
    const asIs = await t.json('POST', '/v1/dead-letters/replay', { body: { deadLetters: [item] } });
    expect(asIs.body.results[0]).toMatchObject({ status: 'rejected', errors: [{ path: 'quantity', message: 'must not be negative' }] });
    const fixed = await t.json('POST', '/v1/dead-letters/replay', { body: { deadLetters: [{ ...item, event: ev('fix-me', { quantity: '4' }) }] } });
    expect(fixed.status).toBe(200);
    expect(fixed.body.results[0]).toMatchObject({ status: 'replayed', eventId: 'fix-me' });
    await waitForSummary(t, [{ customerId: 'c1', metricName: 'api.calls', quantity: '4', events: 1 }]);
    const twice = await t.json('POST', '/v1/dead-letters/replay', { body: { deadLetters: [item] } });
    expect(twice.body.results[0].status).toBe('already_replayed');
    const pending = await t.json('GET', '/v1/dead-letters?status=pending');
    expect(pending.body.data).toEqual([]);
  });

  it('answers 503 with Retry-After while the broker is down, never 2xx, and recovers by itself when it is back', async () => {
    const t = await newTenant();
    const failedBefore = await metricValue('meterhouse_kafka_failed_total');
    await broker.down(1);
    try {
      const started = Date.now();
      const res = await t.request('POST', '/v1/events', { body: ev('during-outage') });
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBeTruthy();
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('broker_unavailable');
      expect(Date.now() - started).toBeLessThan(8000);
    } finally {
      await broker.up(1);
    }
    // The client retries; the producer reconnects on its own.
    let status = 0;
    await waitFor(
      'a 200 after the broker is back',
      async () => (status = (await t.request('POST', '/v1/events', { body: ev('during-outage') })).status) === 200,
      30_000,
      () => status,
    );
    await waitForSummary(t, [{ customerId: 'c1', metricName: 'api.calls', quantity: '1', events: 1 }]);
    expect(await metricValue('meterhouse_kafka_failed_total')).toBeGreaterThan(failedBefore);
  });

  it('rebuilds the chain of an earlier version in place: events consumed before and after count once, dead letters too', async () => {
    const r = await engine();
    const { db, config } = r.deps;
    const t = await newTenant();
    const target = { database: db.database };
    const { source, validation } = kafkaChainOf(config);
    expect(await ensureKafkaPipeline(db, target, source, validation)).toBe('unchanged');
    // The chain as versions before usage_events_validated made it: each routing view checked every message itself.
    expect(await ensureKafkaPipeline(db, target, undefined, validation)).toBe('removed');
    const checked = validation(`${db.database}.usage_events_incoming`, `${db.database}.tenants`);
    for (const sql of [
      `CREATE MATERIALIZED VIEW ${db.database}.usage_events_mv TO ${db.database}.usage_events
       AS SELECT tenant_id, event_id, customer_id, product_id, metric_name, timestamp, quantity, dimensions, source, source_version, request_id,
         fromUnixTimestamp64Milli(received_ms, 'UTC') AS ingested_at, topic AS kafka_topic, partition AS kafka_partition, offset AS kafka_offset
       FROM (${checked}) WHERE error = ''`,
      `CREATE MATERIALIZED VIEW ${db.database}.usage_dead_letters_mv TO ${db.database}.usage_dead_letters
       AS SELECT if(known_tenant, tenant_id, '') AS tenant_id, topic, partition, offset, message AS raw_message, error,
         fromUnixTimestamp64Milli(received_ms, 'UTC') AS received_at
       FROM (${checked}) WHERE error != ''`,
      ...kafkaSourceDdl(target, source!, 'meterhouse chain 0123456789abcdef'),
    ]) {
      await execute(db, 'test.earlier_chain', sql);
    }
    const message = (e: Record<string, unknown>) => JSON.stringify({ tenantId: t.tenantId, ...e });
    await produceRaw([message(ev('r1', { quantity: '2.5' })), message(ev('r2', { quantity: '1' })), message({ eventId: 'bad1' })]);
    await waitForSummary(t, [{ customerId: 'c1', metricName: 'api.calls', quantity: '3.5', events: 2 }], 90_000);
    await waitFor('the first dead letter', async () => (await deadLetters(t)).length === 1, 20_000);

    expect(await ensureKafkaPipeline(db, target, source, validation)).toBe('rebuilt');
    const objects = await runQuery(
      db,
      'test.chain_objects',
      `SELECT name, engine FROM system.tables WHERE database = {database:String} AND (name LIKE 'usage_events%' OR name LIKE '%kafka%' OR name LIKE 'usage_dead_letters%') ORDER BY name`,
      { database: db.database },
      z.object({ name: z.string(), engine: z.string() }),
    );
    expect(objects.filter((o) => o.engine === 'MaterializedView' || o.engine === 'Null' || o.engine === 'Kafka')).toEqual([
      { name: 'kafka_usage_events', engine: 'Kafka' },
      { name: 'usage_dead_letters_mv', engine: 'MaterializedView' },
      { name: 'usage_events_incoming', engine: 'Null' },
      { name: 'usage_events_incoming_mv', engine: 'MaterializedView' },
      { name: 'usage_events_mv', engine: 'MaterializedView' },
      { name: 'usage_events_validated', engine: 'Null' },
      { name: 'usage_events_validated_mv', engine: 'MaterializedView' },
    ]);
    // r1 again (a producer's retry), a new event and a second malformed message, through the rebuilt chain.
    await produceRaw([message(ev('r1', { quantity: '2.5' })), message(ev('r3', { quantity: '0.25' })), message({ eventId: 'bad2', customerId: 'c1' })]);
    // The rebuilt chain's consumer joins the group again first (10-20 s against the test broker).
    await waitForSummary(t, [{ customerId: 'c1', metricName: 'api.calls', quantity: '3.75', events: 3 }], 90_000);
    let letters: Awaited<ReturnType<typeof deadLetters>> = [];
    await waitFor(
      'the second dead letter',
      async () => (letters = await deadLetters(t)).length === 2,
      20_000,
      () => letters,
    );
    expect(letters.map((l) => l.error).sort()).toEqual(['customerId: is required; metricName: is required', 'metricName: is required']);
    expect(await ensureKafkaPipeline(db, target, source, validation)).toBe('unchanged');
  }, 180_000);

  it('exposes produced, acknowledged, failed, consumer lag and dead letters on /metrics', async () => {
    const t = await newTenant();
    const before = await metricValue('meterhouse_kafka_acknowledged_total');
    expect((await t.json('POST', '/v1/events', { body: [ev('m1'), ev('m2')] })).status).toBe(200);
    await produceRaw(['not json at all']);
    expect(await metricValue('meterhouse_kafka_acknowledged_total')).toBe(before + 2);
    expect(await metricValue('meterhouse_kafka_produced_total')).toBeGreaterThanOrEqual(before + 2);
    expect(await metricValue('meterhouse_kafka_consumer_lag_known')).toBe(1);
    await waitFor('a dead letter', async () => (await metricValue('meterhouse_dead_letters{state="pending"}')) > 0, 20_000);
    const text = await metricsText();
    expect(text).toMatch(/^meterhouse_kafka_consumer_lag\{partition="0"\} \d+$/m);
    expect(text).toMatch(/^meterhouse_ingest_events_total\{outcome="accepted"\} [1-9]\d*$/m);
  });
});
