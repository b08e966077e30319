// npm run bench:floor: the least any Node + chdb server could spend per event on this machine, beside which
// meterhouse's own figures (npm run bench) are read. The bench's backfill (BENCH_FLOOR_EVENTS, default 1,000,000; 60
// days, 1% redeliveries, 5,000 events a request, 16 clients, bodies built before the clock) goes over HTTP into
// bench/floor-server.ts, a server that is not meterhouse, in its own process, three ways (BENCH_FLOOR_ROUNDS rounds,
// default 2, the ways alternated):
// - parse: Node's HTTP server reads each body and JSON.parse counts its events; nothing is stored;
// - store: the same, and the body's bytes go as they are into one ReplacingMergeTree table (chdb's raw insert, the
//   engine's parallel JSONEachRow parser), deduplicated by its merges;
// - kafka: the same events (without redeliveries, as npm run bench:kafka) produced into a topic of 4 partitions on the
//   project's test broker before the server starts (a backlog), then consumed by the engine's Kafka table into that
//   table; the clock and the server's CPU start at its spawn, and the rate is until every event is stored.
// No key, no check of the contract, no identity lookup, no rollup tier, no billing log. The server's CPU is counted
// from the first request (kafka: its spawn) until it is quiet again (its merges included). A run that stores counts
// only if the table then holds every distinct event with the exact sum per metric (FINAL), as the generator's truth
// says. BENCH_FLOOR_WAYS picks ways (comma-separated; default all three).
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, totalmem, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel, type Producer } from 'kafkajs';
import { DEFAULT_TENANT } from '../access/keys.js';
import { memoizedDefaultPartitioner } from '../ingest/kafka-partitioner.js';
import { startKafkaBroker, type KafkaBroker } from '../test/kafka-broker.js';
import { envNumber, ingestOverHttp, prepareBodies, writeResults } from './common.js';
import { sameDecimal } from './checks.js';
import { eventBatches, newTruth, truthSums, type BenchTruth } from './events.js';
import { processCpuSeconds, quietCpuSeconds } from './server-process.js';

const EVENTS = envNumber('BENCH_FLOOR_EVENTS', 1_000_000);
const ROUNDS = envNumber('BENCH_FLOOR_ROUNDS', 2);
const ALL_WAYS = ['parse', 'store', 'kafka'] as const;
type Way = (typeof ALL_WAYS)[number];
const WAYS = (process.env.BENCH_FLOOR_WAYS || ALL_WAYS.join(',')).split(',') as Way[];
for (const way of WAYS) if (!ALL_WAYS.includes(way)) throw new Error(`BENCH_FLOOR_WAYS: ${JSON.stringify(way)} is not one of ${ALL_WAYS.join(', ')}`);
const shape = { events: EVENTS, customers: 5_000, days: 60, endMs: Date.UTC(2026, 10, 1) };

const httpTruth = newTruth();
const bodies = prepareBodies(eventBatches({ ...shape, duplicateRate: 0.01 }, 5_000, httpTruth));
const kafkaTruth = newTruth();
type Message = { key: Buffer; value: Buffer };
const messages: Message[][] = WAYS.includes('kafka')
  ? Array.from(eventBatches({ ...shape, duplicateRate: 0 }, 5_000, kafkaTruth), (batch) =>
      (batch as { customerId: string }[]).map((event) => ({
        key: Buffer.from(`${DEFAULT_TENANT}:${event.customerId}`),
        value: Buffer.from(JSON.stringify({ tenantId: DEFAULT_TENANT, ...event })),
      })),
    )
  : [];
const topicOf = (round: number) => `floor_${round}`;
const broker: KafkaBroker | undefined = WAYS.includes('kafka')
  ? await startKafkaBroker({ topics: Array.from({ length: ROUNDS }, (_, i) => `${topicOf(i + 1)}:4`) })
  : undefined;
const per1M = (seconds: number) => +((seconds / EVENTS) * 1e6).toFixed(1);

/** Whether the floor server's table holds exactly the generator's truth; a reason if not. */
function exactness(stored: { metricName: string; events: number; sum: string }[], truth: BenchTruth): string | undefined {
  const events = stored.reduce((n, row) => n + Number(row.events), 0);
  if (events !== truth.events) return `${events} events stored, ${truth.events} sent`;
  const sums = new Map(stored.map((row) => [row.metricName, row.sum]));
  for (const [metric, sum] of Object.entries(truthSums(truth))) if (!sameDecimal(sums.get(metric) ?? '0', sum)) return `${metric}: sum ${sums.get(metric)}`;
  return stored.length === truth.thousandths.size ? undefined : `${stored.length} metrics stored, ${truth.thousandths.size} sent`;
}

/** Every message of `messages` into `topic`, 4 sends at a time (idempotent, acks=all, keyed as the API keys them). */
async function produce(producer: Producer, topic: string): Promise<void> {
  const next = messages[Symbol.iterator]();
  const client = async () => {
    for (let batch = next.next(); !batch.done; batch = next.next()) await producer.send({ topic, acks: -1, messages: batch.value });
  };
  await Promise.all(Array.from({ length: 4 }, client));
}

/** Until the server's table holds `events` rows (at most 10 minutes). */
async function stored(base: string, events: number): Promise<void> {
  const started = performance.now();
  while (Number(await (await fetch(`${base}/count`)).text()) < events) {
    if (performance.now() - started > 600_000) throw new Error('the floor server did not consume the topic within 10 minutes');
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function measure(way: Way, round: number) {
  const dataDir = await mkdtemp(join(tmpdir(), 'meterhouse-bench-floor-'));
  if (way === 'kafka') {
    const producer = new Kafka({ clientId: 'bench-floor', brokers: broker!.brokers, logLevel: logLevel.NOTHING }).producer({
      idempotent: true,
      maxInFlightRequests: 1,
      createPartitioner: memoizedDefaultPartitioner(),
    });
    await producer.connect();
    await produce(producer, topicOf(round));
    await producer.disconnect();
  }
  const spawned = performance.now();
  const proc = spawn(process.execPath, ['--import', 'tsx', 'bench/floor-server.ts'], {
    env: { ...process.env, FLOOR_MODE: way, FLOOR_DATA_DIR: dataDir, FLOOR_KAFKA_BROKERS: broker?.bootstrap ?? '', FLOOR_KAFKA_TOPIC: topicOf(round) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const killServer = () => proc.kill('SIGKILL');
  process.on('exit', killServer);
  try {
    const port = await new Promise<string>((resolve, reject) => {
      let out = '';
      proc.stdout!.on('data', (b: Buffer) => {
        out += b.toString();
        if (out.includes('\n')) resolve(out.trim());
      });
      proc.once('exit', (code) => reject(new Error(`the floor server exited (${code}) before listening`)));
    });
    const base = `http://127.0.0.1:${port}`;
    const truth = way === 'kafka' ? kafkaTruth : httpTruth;
    // kafka: from the spawn (its start included, as bench:kafka's backlog counts it), until every event is stored.
    const cpu0 = way === 'kafka' ? 0 : await processCpuSeconds(proc.pid!);
    let eventsPerSecond: number;
    if (way === 'kafka') {
      await stored(base, truth.events);
      eventsPerSecond = Math.round(truth.events / ((performance.now() - spawned) / 1000));
    } else {
      const run = await ingestOverHttp(base, 'none', bodies, 16, Number.MAX_SAFE_INTEGER);
      eventsPerSecond = Math.round(run.sent / run.seconds);
    }
    const duringIngest = (await processCpuSeconds(proc.pid!)) - cpu0;
    const untilQuiet = (await quietCpuSeconds(() => processCpuSeconds(proc.pid!))) - cpu0;
    let exact = 'nothing stored';
    if (way !== 'parse') {
      const refused = exactness((await (await fetch(`${base}/stored`)).json()) as { metricName: string; events: number; sum: string }[], truth);
      if (refused) throw new Error(`the floor server did not store the events exactly: ${refused}`);
      exact = 'yes';
    }
    return {
      way,
      round,
      eventsPerSecond,
      cpuPer1MDuringIngest: per1M(duringIngest),
      cpuPer1MUntilQuiet: per1M(untilQuiet),
      exact,
    };
  } finally {
    proc.kill('SIGTERM');
    await new Promise((r) => (proc.exitCode === null && proc.signalCode === null ? proc.once('exit', r) : r(undefined)));
    process.off('exit', killServer);
    await rm(dataDir, { recursive: true, force: true });
  }
}

console.log(
  `meterhouse bench:floor — ${cpus().length} cores, ${Math.round(totalmem() / 2 ** 30)} GiB, ${process.version}; ${EVENTS.toLocaleString()} events a way, ${ROUNDS} rounds`,
);
const rows = [];
for (let round = 1; round <= ROUNDS; round++) for (const way of WAYS) rows.push(await measure(way, round));
console.log('a server that is not meterhouse (bench/floor-server.ts): events/s, and its CPU s per 1M events during ingest and until quiet:');
console.table(rows);
await broker?.stop();
await writeResults('floor', { events: EVENTS, rounds: ROUNDS, rows });
