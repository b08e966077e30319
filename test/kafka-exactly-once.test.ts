import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Kafka, logLevel, type Producer } from 'kafkajs';
import { startKafkaBroker, type KafkaBroker } from './kafka-broker.js';
import { post, start, stop, tempDir, total, type Server } from './server-process.js';
import { waitFor } from './wait.js';

/**
 * Exactly once at the numbers, at volume, through the whole Kafka path and
 * across failures: meterhouse runs as a process of its own (consumer inside),
 * is killed with SIGKILL mid-stream and restarted on the same data directory,
 * the broker goes down and comes back, eventIds are produced again, the API's
 * clients retry, and malformed messages are mixed in. At the end every valid
 * event counts exactly once in /v1/usage/summary and every malformed message
 * is exactly one dead letter.
 */
const TOPIC = 'usage_events_volume';
const KEY = 'volume-admin-key-0123456789abcdef';
const EVENTS = 30_000;
const CUSTOMERS = 25;
let broker: KafkaBroker;
let producer: Producer;

beforeAll(async () => {
  broker = await startKafkaBroker({ topics: [`${TOPIC}:4`] });
  producer = new Kafka({ brokers: broker.brokers, logLevel: logLevel.NOTHING, retry: { retries: 30, maxRetryTime: 2000 } }).producer({
    idempotent: true,
    maxInFlightRequests: 1,
  });
  await producer.connect();
}, 120_000);

afterAll(async () => {
  await producer?.disconnect();
  await broker?.stop();
});

interface Event {
  eventId: string;
  customerId: string;
  metricName: string;
  quantity: string;
  timestamp: number;
}

const T0 = Date.UTC(2026, 10, 1);
const events: Event[] = Array.from({ length: EVENTS }, (_, i) => ({
  eventId: `v-${i}`,
  customerId: `c${i % CUSTOMERS}`,
  metricName: i % 3 === 0 ? 'gpu.seconds' : 'api.calls',
  quantity: `${i % 97}.${String(i % 1000).padStart(3, '0')}`,
  timestamp: T0 + i * 1000,
}));

const malformed: string[] = [
  ...Array.from({ length: 50 }, (_, i) => `{"broken": ${i}`),
  ...Array.from({ length: 50 }, (_, i) => JSON.stringify({ tenantId: 'default', eventId: `m-nocustomer-${i}`, metricName: 'api.calls' })),
  ...Array.from({ length: 50 }, (_, i) =>
    JSON.stringify({ tenantId: 'default', eventId: `m-quantity-${i}`, customerId: 'c0', metricName: 'api.calls', quantity: 'NaN' }),
  ),
  ...Array.from({ length: 50 }, (_, i) =>
    JSON.stringify({ tenantId: 'default', eventId: `m-time-${i}`, customerId: 'c0', metricName: 'api.calls', timestamp: '2026-13-01' }),
  ),
];

/** The summary an exact system shows: per (customer, metric), the decimal sum and the count. */
function oracle(): { customerId: string; metricName: string; quantity: string; events: number }[] {
  const sums = new Map<string, { milli: bigint; events: number }>();
  for (const e of events) {
    const key = `${e.customerId}\u0000${e.metricName}`;
    const s = sums.get(key) ?? { milli: 0n, events: 0 };
    s.milli += BigInt(e.quantity.replace('.', ''));
    s.events++;
    sums.set(key, s);
  }
  return [...sums.entries()]
    .map(([key, s]) => {
      const [customerId, metricName] = key.split('\u0000') as [string, string];
      const fraction = (s.milli % 1000n).toString().padStart(3, '0').replace(/0+$/, '');
      return { customerId, metricName, quantity: `${s.milli / 1000n}${fraction ? `.${fraction}` : ''}`, events: s.events };
    })
    .sort((a, b) => (a.customerId + a.metricName < b.customerId + b.metricName ? -1 : 1));
}

const asMessage = (e: Event) => ({ key: `default:${e.customerId}`, value: JSON.stringify({ tenantId: 'default', ...e }) });

/** Produce in chunks; with `pauseMs`, a steady stream rather than one burst. */
async function produce(batch: { key: string; value: string }[], pauseMs = 0, chunk = 1000): Promise<void> {
  for (let i = 0; i < batch.length; i += chunk) {
    await producer.send({ topic: TOPIC, acks: -1, messages: batch.slice(i, i + chunk) });
    if (pauseMs) await new Promise((r) => setTimeout(r, pauseMs));
  }
}

const sorted = (rows: { customerId: string; metricName: string }[]) =>
  [...rows].sort((a, b) => (a.customerId + a.metricName < b.customerId + b.metricName ? -1 : 1));

async function countedEvents(s: Server): Promise<number> {
  const rows = (await total(s, KEY)) as { events: number }[] | undefined;
  return (rows ?? []).reduce((n, r) => n + r.events, 0);
}

async function deadLetterCount(s: Server): Promise<number> {
  let n = 0;
  let cursor: string | null = null;
  do {
    const res = await fetch(`${s.url}/v1/dead-letters?limit=1000${cursor ? `&cursor=${cursor}` : ''}`, { headers: { authorization: `Bearer ${KEY}` } });
    const page = (await res.json()) as { data: unknown[]; nextCursor: string | null };
    n += page.data.length;
    cursor = page.nextCursor;
  } while (cursor);
  return n;
}

describe('Kafka path, exactly once at volume', () => {
  it('counts every valid event once and dead-letters every malformed message once, across a consumer kill, a broker outage, redeliveries and retries', async () => {
    const dataDir = await tempDir();
    const env = {
      DATA_DIR: dataDir,
      METERHOUSE_API_KEY: KEY,
      KAFKA_BROKERS: broker.bootstrap,
      KAFKA_TOPIC: TOPIC,
      KAFKA_FLUSH_INTERVAL_MS: '200',
      KAFKA_PRODUCE_TIMEOUT_MS: '3000',
      ENGINE_FSYNC: 'false',
    };
    const direct = events.slice(0, 24_000);
    const viaApi = events.slice(24_000);

    // 1. A consumes while a stream arrives; it is killed mid-stream.
    const a = await start(env);
    const streaming = produce([...direct.slice(0, 12_000).map(asMessage), ...malformed.slice(0, 100).map((value) => ({ key: 'x', value }))], 100, 250);
    let atKill = 0;
    await waitFor('the first events to be consumed', async () => (atKill = await countedEvents(a)) > 500, 60_000);
    expect(await stop(a, 'SIGKILL')).toBeNull();
    await streaming;
    expect(atKill).toBeLessThan(12_000); // the kill interrupted consumption

    // 2. While nothing consumes: more events, and events produced again (producer retries, redeliveries).
    await produce([...direct.slice(12_000, 18_000), ...direct.slice(0, 3_000)].map(asMessage));

    // 3. B takes over on the same data directory and catches up; then the broker goes away and comes back.
    // (The outage comes after B's consumer has joined the group: with the mock broker, an outage in the
    // middle of that join left the consumer without partitions for minutes in some runs; see the README.)
    const b = await start(env);
    await waitFor('the restarted consumer to catch up', async () => (await countedEvents(b)) >= 18_000, 120_000);
    await broker.down(1);
    const refused = await post(b, KEY, viaApi.slice(0, 100));
    expect(refused.status).toBe(503);
    await broker.up(1);
    for (let i = 0; i < viaApi.length; i += 1000) {
      const batch = viaApi.slice(i, i + 1000);
      let res = await post(b, KEY, batch);
      for (let attempt = 0; res.status === 503 && attempt < 20; attempt++) res = await post(b, KEY, batch); // the client retries
      expect(res.status).toBe(200);
      if (i % 2000 === 0) expect((await post(b, KEY, batch)).status).toBe(200); // a retry after success: duplicates
    }
    await produce([
      ...direct.slice(18_000).map(asMessage),
      ...direct.slice(9_000, 12_000).map(asMessage),
      ...malformed.slice(100).map((value) => ({ key: 'x', value })),
    ]);

    const expected = oracle();
    let last: unknown;
    await waitFor(
      'every event counted once',
      async () => JSON.stringify(sorted((last = await total(b, KEY)) as never[])) === JSON.stringify(expected),
      120_000,
      () => ({ counted: (last as { events: number }[]).reduce((n, r) => n + r.events, 0), expected: EVENTS }),
    );
    let letters = 0;
    await waitFor(
      'every malformed message as one dead letter',
      async () => (letters = await deadLetterCount(b)) >= malformed.length,
      60_000,
      () => letters,
    );
    expect(letters).toBe(malformed.length);
    expect(await stop(b)).toBe(0);
  }, 300_000);
});
