// npm run bench:kafka: the Kafka ingest path on the embedded engine and the project's
// Kafka-protocol test broker. Measures (1) API ingest with the producer (acknowledged by the
// broker), (2) ClickHouse's Kafka engine consuming until every event counts in the summary,
// and (3) freshness: from one event's acknowledgement to its appearance in the summary. The server
// (api/main.ts) runs in its own process; the broker and the load generator share this one.
// Size: BENCH_KAFKA_EVENTS (default 1,000,000), BENCH_BATCH, BENCH_CLIENTS, BENCH_KAFKA_PARTITIONS, and the engine's
// consumers BENCH_KAFKA_CONSUMERS (default: as many as partitions, at most 2).
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../api/config.js';
import { startKafkaBroker } from '../test/kafka-broker.js';
import { eventBatches } from './events.js';
import { envNumber, ingestOverHttp, percentile, prepareBodies, writeResults } from './common.js';
import { startServer } from './server-process.js';

const EVENTS = envNumber('BENCH_KAFKA_EVENTS', 1_000_000);
const BATCH = envNumber('BENCH_BATCH', 5_000);
const CLIENTS = envNumber('BENCH_CLIENTS', 4);
const PARTITIONS = envNumber('BENCH_KAFKA_PARTITIONS', 4);
const CONSUMERS = envNumber('BENCH_KAFKA_CONSUMERS', Math.min(PARTITIONS, 2));
const KEY = 'bench-admin-key-0123456789abcdef';
const END = Date.UTC(2026, 10, 1);
const TOPIC = 'usage_events_bench';

const broker = await startKafkaBroker({ topics: [`${TOPIC}:${PARTITIONS}`] });
const dataDir = await mkdtemp(join(tmpdir(), 'meterhouse-bench-kafka-'));
const serverEnv = {
  DATA_DIR: dataDir,
  METERHOUSE_API_KEY: KEY,
  KAFKA_BROKERS: broker.bootstrap,
  KAFKA_TOPIC: TOPIC,
  KAFKA_CONSUMERS: String(CONSUMERS),
  MAX_EVENTS_PER_REQUEST: String(Math.max(BATCH, 10_000)),
};
// The settings as the server reads them (for the results), and the server in its own process.
const config = loadConfig({ ...process.env, ...serverEnv });
const server = await startServer(serverEnv);
const base = server.base;
const auth = { authorization: `Bearer ${KEY}` };

/** Events the summary counts (following its pages), for all customers or one. */
async function counted(customerId?: string): Promise<number> {
  let n = 0;
  let cursor: string | null = null;
  do {
    const q = `from=0&to=${Date.now() + 86_400_000}&limit=10000${customerId ? `&customerId=${customerId}` : ''}${cursor ? `&cursor=${cursor}` : ''}`;
    const res = await fetch(`${base}/v1/usage/summary?${q}`, { headers: auth });
    const body = (await res.json()) as { data: { events: number }[]; nextCursor: string | null };
    n += body.data.reduce((sum, r) => sum + r.events, 0);
    cursor = body.nextCursor;
  } while (cursor);
  return n;
}

// ---- 1. produce through the API
const batches = eventBatches({ events: EVENTS, customers: 5_000, days: 60, duplicateRate: 0, endMs: END }, BATCH);
const bodies = prepareBodies(batches);
const cpu0 = await server.cpuSeconds();
const started = performance.now();
const { sent, seconds: produceSeconds, requestMs } = await ingestOverHttp(base, KEY, bodies, CLIENTS, 250_000);

// ---- 2. consumption: until the summary counts every event. While the consumer group has messages
// left to commit, the bench watches its lag on /metrics (a cheap scrape) rather than reading the
// summary, whose whole-tenant pages over raw events cost the server ~1-2 s of engine time each and
// took CPU from the consumption they were waiting for (end to end 9.8k-17.0k events/s in three runs
// of one commit). Then the summary must count every event.
async function consumerLag(): Promise<number | undefined> {
  const text = await (await fetch(`${base}/metrics`)).text();
  if (!/^meterhouse_kafka_consumer_lag_known 1$/m.test(text)) return undefined;
  return [...text.matchAll(/^meterhouse_kafka_consumer_lag\{partition="\d+"\} (\d+)$/gm)].reduce((sum, m) => sum + Number(m[1]), 0);
}
const overdue = (what: string) => {
  if ((performance.now() - started) / 1000 > 3600) throw new Error(`${what} after an hour`);
};
let lag: number | undefined;
while ((lag = await consumerLag()) !== 0) {
  overdue(`consumer lag ${lag ?? 'unknown'}`);
  await new Promise((r) => setTimeout(r, 250));
}
let seen: number;
while ((seen = await counted()) < sent) {
  overdue(`only ${seen} of ${sent} events visible`);
  await new Promise((r) => setTimeout(r, 250));
}
const endToEndSeconds = (performance.now() - started) / 1000;
const serverCpuSecondsPer1M = +((((await server.cpuSeconds()) - cpu0) / sent) * 1e6).toFixed(1);

// ---- 3. freshness: one event at a time, acknowledgement to visible
const freshnessMs: number[] = [];
for (let i = 0; i < 20; i++) {
  const customerId = `fresh-${i}`;
  const body = { eventId: `fresh-${i}`, customerId, metricName: 'api.calls' };
  const res = await fetch(`${base}/v1/events`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  if (res.status !== 200) throw new Error(`freshness event answered ${res.status}`);
  const acked = performance.now();
  while ((await counted(customerId)) < 1) await new Promise((r) => setTimeout(r, 20));
  freshnessMs.push(performance.now() - acked);
}
freshnessMs.sort((a, b) => a - b);

const results = {
  machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model, memoryGiB: Math.round(totalmem() / 1024 ** 3), node: process.version },
  config: {
    events: EVENTS,
    batch: BATCH,
    clients: CLIENTS,
    partitions: PARTITIONS,
    consumers: config.KAFKA_CONSUMERS,
    flushIntervalMs: config.KAFKA_FLUSH_INTERVAL_MS,
  },
  produce: {
    events: sent,
    seconds: +produceSeconds.toFixed(1),
    eventsPerSecond: Math.round(sent / produceSeconds),
    requestP50Ms: +percentile(requestMs, 50).toFixed(1),
    requestP99Ms: +percentile(requestMs, 99).toFixed(1),
  },
  endToEnd: { seconds: +endToEndSeconds.toFixed(1), eventsPerSecond: Math.round(sent / endToEndSeconds), serverCpuSecondsPer1M },
  freshness: { runs: freshnessMs.length, p50Ms: Math.round(percentile(freshnessMs, 50)), p99Ms: Math.round(percentile(freshnessMs, 99)) },
};
console.log(`\nmeterhouse Kafka bench — ${results.machine.cpus} cores, ${results.machine.memoryGiB} GiB, ${results.machine.node}`);
console.table([
  { measure: 'API → broker, acknowledged (events/s)', value: results.produce.eventsPerSecond },
  { measure: `request p50 / p99 (ms, ${BATCH} events)`, value: `${results.produce.requestP50Ms} / ${results.produce.requestP99Ms}` },
  { measure: 'end to end, all counted in the summary (events/s)', value: results.endToEnd.eventsPerSecond },
  { measure: 'server CPU seconds per 1M events (produce + consume)', value: serverCpuSecondsPer1M },
  { measure: 'freshness: ack → visible, p50 / p99 (ms)', value: `${results.freshness.p50Ms} / ${results.freshness.p99Ms}` },
]);
await writeResults('kafka', results);

await server.stop();
await broker.stop();
await rm(dataDir, { recursive: true, force: true });
