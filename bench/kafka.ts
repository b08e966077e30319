// npm run bench:kafka: the Kafka ingest path on the embedded engine and the project's
// Kafka-protocol test broker. The server (api/main.ts) runs in its own process; the broker is a process of its own;
// the load generator is this one. Who produces the events (BENCH_KAFKA_PRODUCER):
// - `api` (default): the generator POSTs them to /v1/events and the API produces them (acks=all). Measures (1) API
//   ingest with the producer, acknowledged by the broker, and (2) ClickHouse's Kafka engine consuming until every
//   event counts in the summary: the server does both halves.
// - `direct`: the generator produces them straight into the topic, as another service may (docs/kafka.md), while the
//   server consumes: the server does only the consuming half.
// - `backlog`: the generator produces them all into the topic before the server starts, then the server starts and
//   consumes the backlog (catching up after an outage); the clock and the server's CPU start at its spawn.
// Then (3) freshness: from one event's acknowledgement (by the API, or by the broker for the other two) to its
// appearance in the summary.
// Size: BENCH_KAFKA_EVENTS (default 1,000,000), BENCH_BATCH, BENCH_CLIENTS, BENCH_KAFKA_PARTITIONS, and the engine's
// consumers BENCH_KAFKA_CONSUMERS (default: as many as partitions, at most 2).
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { DEFAULT_TENANT } from '../access/keys.js';
import { loadConfig } from '../api/config.js';
import { memoizedDefaultPartitioner } from '../ingest/kafka-partitioner.js';
import { startKafkaBroker } from '../test/kafka-broker.js';
import { eventBatches } from './events.js';
import { envNumber, ingestOverHttp, percentile, prepareBodies, writeResults } from './common.js';
import { processCpuSeconds, startServer, type ServerProcess } from './server-process.js';

const EVENTS = envNumber('BENCH_KAFKA_EVENTS', 1_000_000);
const BATCH = envNumber('BENCH_BATCH', 5_000);
const CLIENTS = envNumber('BENCH_CLIENTS', 4);
const PARTITIONS = envNumber('BENCH_KAFKA_PARTITIONS', 4);
const CONSUMERS = envNumber('BENCH_KAFKA_CONSUMERS', Math.min(PARTITIONS, 2));
const PRODUCERS = ['api', 'direct', 'backlog'] as const;
const PRODUCER = (process.env.BENCH_KAFKA_PRODUCER || 'api') as (typeof PRODUCERS)[number];
if (!PRODUCERS.includes(PRODUCER))
  throw new Error(`BENCH_KAFKA_PRODUCER=${JSON.stringify(process.env.BENCH_KAFKA_PRODUCER)} is not one of ${PRODUCERS.join(', ')}`);
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
// The settings as the server reads them (for the results).
const config = loadConfig({ ...process.env, ...serverEnv });
const auth = { authorization: `Bearer ${KEY}` };
const batches = eventBatches({ events: EVENTS, customers: 5_000, days: 60, duplicateRate: 0, endMs: END }, BATCH);

/**
 * `direct` and `backlog`: the generator's own producer, as another service's would be (idempotent, acks=all, keyed
 * `tenant:customerId` like the API's). Each message is the event contract plus tenantId, built before the clock.
 */
const producer =
  PRODUCER === 'api'
    ? undefined
    : new Kafka({ clientId: 'bench-producer', brokers: broker.brokers, logLevel: logLevel.NOTHING }).producer({
        idempotent: true,
        maxInFlightRequests: 1,
        createPartitioner: memoizedDefaultPartitioner(),
      });
await producer?.connect();
type Message = { key: Buffer; value: Buffer };
const messageOf = (event: { customerId: string }): Message => ({
  key: Buffer.from(`${DEFAULT_TENANT}:${event.customerId}`),
  value: Buffer.from(JSON.stringify({ tenantId: DEFAULT_TENANT, ...event })),
});

/** Every prepared batch produced into the topic, `CLIENTS` sends at a time; every send must be acknowledged. */
async function produceDirect(messages: Message[][]): Promise<{ sent: number; seconds: number; sendMs: number[] }> {
  const next = messages[Symbol.iterator]();
  const run = { sent: 0, seconds: 0, sendMs: [] as number[] };
  const started = performance.now();
  async function client() {
    for (let batch = next.next(); !batch.done; batch = next.next()) {
      const t0 = performance.now();
      await producer!.send({ topic: TOPIC, acks: -1, messages: batch.value });
      run.sendMs.push(performance.now() - t0);
      const before = run.sent;
      run.sent += batch.value.length;
      if (Math.floor(run.sent / 250_000) > Math.floor(before / 250_000))
        process.stderr.write(`  produced ${run.sent.toLocaleString()} events, ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
    }
  }
  await Promise.all(Array.from({ length: CLIENTS }, client));
  run.seconds = (performance.now() - started) / 1000;
  run.sendMs.sort((a, b) => a - b);
  return run;
}

// ---- 1. produce: through the API, straight into the topic beside the server, or all of it before the server starts
let server: ServerProcess;
let produced: { sent: number; seconds: number; requestMs: number[] };
let started: number;
let cpu0: number;
let threads0 = new Map<string, number>();
// The generator's and the broker's CPU from the first request or send (the bodies and messages are built before).
let generatorCpu0: NodeJS.CpuUsage;
let brokerCpu0: number;
const startOthers = async () => {
  generatorCpu0 = process.cpuUsage();
  brokerCpu0 = await processCpuSeconds(broker.pid);
};
if (PRODUCER === 'api') {
  const bodies = prepareBodies(batches);
  server = await startServer(serverEnv);
  cpu0 = await server.cpuSeconds();
  threads0 = await server.threadCpuSeconds();
  await startOthers();
  started = performance.now();
  const run = await ingestOverHttp(server.base, KEY, bodies, CLIENTS, 250_000);
  produced = { sent: run.sent, seconds: run.seconds, requestMs: run.requestMs };
} else {
  const messages = Array.from(batches, (b) => (b as { customerId: string }[]).map(messageOf));
  const produce = async () => {
    await startOthers();
    const run = await produceDirect(messages);
    return { sent: run.sent, seconds: run.seconds, requestMs: run.sendMs };
  };
  if (PRODUCER === 'direct') {
    server = await startServer(serverEnv);
    cpu0 = await server.cpuSeconds();
    threads0 = await server.threadCpuSeconds();
    started = performance.now();
    produced = await produce();
  } else {
    produced = await produce();
    started = performance.now();
    server = await startServer(serverEnv);
    cpu0 = 0; // from its spawn: startup and migrations included
  }
}
const serverStartedSeconds = (performance.now() - started) / 1000;
const { sent } = produced;
const base = server.base;

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
const committedSeconds = (performance.now() - started) / 1000;
let seen: number;
while ((seen = await counted()) < sent) {
  overdue(`only ${seen} of ${sent} events visible`);
  await new Promise((r) => setTimeout(r, 250));
}
const endToEndSeconds = (performance.now() - started) / 1000;
const per1M = (seconds: number) => +((seconds / sent) * 1e6).toFixed(1);
const serverCpuSecondsPer1M = per1M((await server.cpuSeconds()) - cpu0);
// The server's CPU by thread name (the engine names its threads: Kafka consumers, the streaming that pushes their
// blocks through the views, merges; Node's are all "node"), the busiest first.
const threads1 = await server.threadCpuSeconds();
const serverCpuByThreadPer1M = Object.fromEntries(
  [...threads1]
    .map(([name, seconds]) => [name, per1M(seconds - (threads0.get(name) ?? 0))] as const)
    .filter(([, s]) => s >= 0.5)
    .sort((a, b) => b[1] - a[1]),
);
const brokerCpuSecondsPer1M = per1M((await processCpuSeconds(broker.pid)) - brokerCpu0!);
const generatorCpu = process.cpuUsage(generatorCpu0!);
const generatorCpuSecondsPer1M = per1M((generatorCpu.user + generatorCpu.system) / 1e6);

// ---- 3. freshness: one event at a time, acknowledgement (the API's, or the broker's for a message produced straight
// into the topic) to visible
const freshnessMs: number[] = [];
for (let i = 0; i < 20; i++) {
  const customerId = `fresh-${i}`;
  const event = { eventId: `fresh-${i}`, customerId, metricName: 'api.calls', timestamp: Date.now() };
  if (producer) await producer.send({ topic: TOPIC, acks: -1, messages: [messageOf(event)] });
  else {
    const res = await fetch(`${base}/v1/events`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify(event) });
    if (res.status !== 200) throw new Error(`freshness event answered ${res.status}`);
  }
  const acked = performance.now();
  while ((await counted(customerId)) < 1) await new Promise((r) => setTimeout(r, 20));
  freshnessMs.push(performance.now() - acked);
}
freshnessMs.sort((a, b) => a - b);

const results = {
  machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model, memoryGiB: Math.round(totalmem() / 1024 ** 3), node: process.version },
  config: {
    producer: PRODUCER,
    events: EVENTS,
    batch: BATCH,
    clients: CLIENTS,
    partitions: PARTITIONS,
    consumers: config.KAFKA_CONSUMERS,
    flushIntervalMs: config.KAFKA_FLUSH_INTERVAL_MS,
  },
  produce: {
    events: sent,
    seconds: +produced.seconds.toFixed(1),
    eventsPerSecond: Math.round(sent / produced.seconds),
    requestP50Ms: +percentile(produced.requestMs, 50).toFixed(1),
    requestP99Ms: +percentile(produced.requestMs, 99).toFixed(1),
  },
  endToEnd: {
    seconds: +endToEndSeconds.toFixed(1),
    /** When the consumer group had committed every message (before the summary counted them all). */
    committedSeconds: +committedSeconds.toFixed(1),
    eventsPerSecond: Math.round(sent / endToEndSeconds),
    serverCpuSecondsPer1M,
    serverCpuByThreadPer1M,
    ...(PRODUCER === 'backlog' ? { serverStartSeconds: +serverStartedSeconds.toFixed(1) } : {}),
  },
  otherProcesses: { brokerCpuSecondsPer1M, generatorCpuSecondsPer1M },
  freshness: { runs: freshnessMs.length, p50Ms: Math.round(percentile(freshnessMs, 50)), p99Ms: Math.round(percentile(freshnessMs, 99)) },
};
const who = {
  api: 'API → broker, acknowledged',
  direct: 'generator → broker, acknowledged, beside the server',
  backlog: 'generator → broker, before the server started',
}[PRODUCER];
const serverDoes = PRODUCER === 'api' ? 'produce + consume' : PRODUCER === 'direct' ? 'consume' : 'start + consume';
console.log(`\nmeterhouse Kafka bench (${PRODUCER}) — ${results.machine.cpus} cores, ${results.machine.memoryGiB} GiB, ${results.machine.node}`);
console.table([
  { measure: `${who} (events/s)`, value: results.produce.eventsPerSecond },
  {
    measure: `${PRODUCER === 'api' ? 'request' : 'send'} p50 / p99 (ms, ${BATCH} events)`,
    value: `${results.produce.requestP50Ms} / ${results.produce.requestP99Ms}`,
  },
  {
    measure: `end to end, all counted in the summary (events/s${PRODUCER === 'backlog' ? ', from the server spawning' : ''})`,
    value: results.endToEnd.eventsPerSecond,
  },
  { measure: 'seconds to every message committed / every event counted', value: `${results.endToEnd.committedSeconds} / ${results.endToEnd.seconds}` },
  ...(PRODUCER === 'backlog' ? [{ measure: 'of which the server starting (s)', value: results.endToEnd.serverStartSeconds }] : []),
  { measure: `server CPU seconds per 1M events (${serverDoes})`, value: serverCpuSecondsPer1M },
  {
    measure: 'of which, by thread (CPU s per 1M, at least 0.5)',
    value: Object.entries(serverCpuByThreadPer1M)
      .map(([n, s]) => `${n} ${s}`)
      .join(', '),
  },
  { measure: 'broker / load generator CPU seconds per 1M events', value: `${brokerCpuSecondsPer1M} / ${generatorCpuSecondsPer1M}` },
  { measure: `freshness: ack → visible, p50 / p99 (ms)`, value: `${results.freshness.p50Ms} / ${results.freshness.p99Ms}` },
]);
await writeResults(`kafka-${PRODUCER}`, results);

await producer?.disconnect();
await server.stop();
await broker.stop();
await rm(dataDir, { recursive: true, force: true });
