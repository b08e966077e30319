// npm run bench:reads (also the second part of npm run bench): single-event ingest latency
// while 8 clients run the worst reads they can ask for. The server runs as its own process
// (api/main.ts), so the load generator never shares its CPU time or heap.
// Size: BENCH_READS_EVENTS (default 1,000,000), BENCH_CUSTOMERS (5,000), BENCH_READERS (8),
// BENCH_SINGLE_EVENTS (300 single-event requests measured per phase).
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { eventBatches } from './events.js';
import { envNumber, ingestOverHttp, percentile, prepareBodies, writeResults } from './common.js';
import { startServer } from './server-process.js';

const EVENTS = envNumber('BENCH_READS_EVENTS', 1_000_000);
const CUSTOMERS = envNumber('BENCH_CUSTOMERS', 5_000);
const READERS = envNumber('BENCH_READERS', 8);
const SINGLES = envNumber('BENCH_SINGLE_EVENTS', 300);
const KEY = 'bench-admin-key-0123456789abcdef';
const END = Date.UTC(2026, 10, 1);
const DAY = 86_400_000;

const dataDir = await mkdtemp(join(tmpdir(), 'meterhouse-bench-reads-'));
const server = await startServer({ DATA_DIR: dataDir, METERHOUSE_API_KEY: KEY, ENGINE_FSYNC: process.env.ENGINE_FSYNC ?? 'false' });
const { base } = server;
const auth = { authorization: `Bearer ${KEY}` };

let maxRssMiB = 0;
let phaseMaxRssMiB = 0;
const rssMiB = server.rssMiB;
const rssTimer = setInterval(async () => {
  const now = await rssMiB();
  maxRssMiB = Math.max(maxRssMiB, now);
  phaseMaxRssMiB = Math.max(phaseMaxRssMiB, now);
}, 100);

// ---- data: 5,000 customers over 300 days
const batches = eventBatches({ events: EVENTS, customers: CUSTOMERS, days: 300, duplicateRate: 0, endMs: END }, 5000);
const ingest = await ingestOverHttp(base, KEY, prepareBodies(batches), 2, 250_000);
for (const meter of [
  { key: 'sum', metricName: 'api.calls', aggregation: 'SUM' },
  { key: 'p99', metricName: 'compute.seconds', aggregation: 'P99' },
  { key: 'regions', metricName: 'tokens', aggregation: 'UNIQUE_COUNT', uniqueDimension: 'region' },
]) {
  const res = await fetch(`${base}/v1/meters`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify(meter) });
  if (res.status !== 201) throw new Error(`creating meter answered ${res.status}`);
}

// ---- single-event ingest, one request at a time
let seq = 0;
async function singles(n: number): Promise<number[]> {
  const ms: number[] = [];
  for (let i = 0; i < n; i++) {
    const body = JSON.stringify({ eventId: `single-${seq++}`, customerId: 'cust-single', metricName: 'api.calls', quantity: 1, timestamp: END - DAY });
    const t0 = performance.now();
    const res = await fetch(`${base}/v1/events`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body });
    await res.arrayBuffer();
    if (res.status !== 200) throw new Error(`single-event ingest answered ${res.status}`);
    ms.push(performance.now() - t0);
  }
  return ms.sort((a, b) => a - b);
}
const stats = (ms: number[]) => ({
  requests: ms.length,
  p50Ms: +percentile(ms, 50).toFixed(1),
  p99Ms: +percentile(ms, 99).toFixed(1),
  maxMs: +ms.at(-1)!.toFixed(1),
});

/** Round trips that touch no engine (an unknown path: 404): how long the server's event loop keeps requests waiting. */
async function loopProbe(n: number): Promise<number[]> {
  const ms: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await (await fetch(`${base}/no-such-path`)).arrayBuffer();
    ms.push(performance.now() - t0);
    await new Promise((r) => setTimeout(r, 20));
  }
  return ms.sort((a, b) => a - b);
}

const idle = stats(await singles(SINGLES));

// ---- the worst reads of issue #10: all-time summary, hourly SUM by customer over 10 months, P99, UNIQUE_COUNT by day x customer
const WORST = [
  `/v1/usage/summary?from=0&to=${END}&limit=10000`,
  `/v1/meters/sum/usage?from=2026-01-01T00:00:00Z&to=2026-10-28T00:00:00Z&granularity=hour&groupBy=customerId`,
  `/v1/meters/p99/usage?from=${END - 300 * DAY}&to=${END}&granularity=day&groupBy=customerId`,
  `/v1/meters/regions/usage?from=${END - 365 * DAY}&to=${END}&granularity=day&groupBy=customerId`,
  `/v1/meters/sum/usage?from=${END - 365 * DAY}&to=${END}&granularity=day&groupBy=customerId`,
  `/v1/events?from=0&to=${END}&limit=1000`,
];
const outcomes: Record<string, number> = {};
const readMs: number[] = [];
let reading = true;
async function reader(n: number) {
  for (let i = n; reading; i++) {
    const t0 = performance.now();
    let res: Response;
    let body: Buffer;
    try {
      res = await fetch(`${base}${WORST[i % WORST.length]}`, { headers: auth });
      body = Buffer.from(await res.arrayBuffer());
    } catch (error) {
      // A keep-alive socket the server closed just as it was reused: counted, then the next read.
      const code = `network ${(error as { cause?: { code?: string } }).cause?.code ?? 'error'}`;
      outcomes[code] = (outcomes[code] ?? 0) + 1;
      continue;
    }
    const code = res.status === 200 ? '200' : `${res.status} ${(JSON.parse(body.toString()) as { error: { code: string } }).error.code}`;
    outcomes[code] = (outcomes[code] ?? 0) + 1;
    readMs.push(performance.now() - t0);
    // A refused read (429) comes back at once; a real client backs off as Retry-After says.
    if (res.status === 429) await new Promise((r) => setTimeout(r, 1000 * Number(res.headers.get('retry-after') ?? 1)));
  }
}
const readers = Array.from({ length: READERS }, (_, n) => reader(n));
await new Promise((r) => setTimeout(r, 2000)); // let the reads fill the engine first
const [ingestUnderReads, probeUnderReads] = await Promise.all([singles(SINGLES), loopProbe(SINGLES)]);
const underReads = stats(ingestUnderReads);
const eventLoop = stats(probeUnderReads);
reading = false;
await Promise.all(readers);
readMs.sort((a, b) => a - b);

// ---- an ingest burst: 8 clients x 2 bodies of 10,000 events at once (issue #10: RSS 347 MB -> 1.9 GB before the budget)
const burstBodies = [...eventBatches({ events: 160_000, customers: CUSTOMERS, days: 300, duplicateRate: 0, endMs: END - 400 * DAY }, 10_000)].map((b) =>
  JSON.stringify(b.map((e) => ({ ...e, eventId: `burst-${(e as { eventId: string }).eventId}` }))),
);
const rssBeforeBurst = await rssMiB();
phaseMaxRssMiB = rssBeforeBurst;
const burstOutcomes: Record<string, number> = {};
await Promise.all(
  burstBodies.map(async (body) => {
    const res = await fetch(`${base}/v1/events`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body });
    const json = (await res.json()) as { error?: { code: string } };
    const code = res.status === 200 ? '200' : `${res.status} ${json.error?.code}`;
    burstOutcomes[code] = (burstOutcomes[code] ?? 0) + 1;
  }),
);
const burst = {
  bodies: burstBodies.length,
  bodyBytes: burstBodies[0]!.length,
  outcomes: burstOutcomes,
  rssBeforeMiB: rssBeforeBurst,
  rssMaxMiB: phaseMaxRssMiB,
};

clearInterval(rssTimer);
const results = {
  machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model, memoryGiB: Math.round(totalmem() / 1024 ** 3), node: process.version },
  config: {
    events: EVENTS,
    customers: CUSTOMERS,
    readers: READERS,
    readLimits: Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith('READ_'))),
  },
  ingest: { events: ingest.sent, seconds: +ingest.seconds.toFixed(1) },
  singleEventIngestIdle: idle,
  singleEventIngestDuring8WorstReads: underReads,
  engineFreeRoundTripDuringReads: eventLoop,
  reads: { outcomes, p50Ms: +percentile(readMs, 50).toFixed(1), maxMs: +(readMs.at(-1) ?? 0).toFixed(1) },
  ingestBurst: burst,
  serverMaxRssMiB: maxRssMiB,
};
console.log(`\nmeterhouse bench: reads vs ingest — ${results.machine.cpus} cores, ${results.machine.memoryGiB} GiB, ${results.machine.node}`);
console.table([
  { measure: 'single-event ingest p50, idle (ms)', value: idle.p50Ms },
  { measure: 'single-event ingest p99, idle (ms)', value: idle.p99Ms },
  { measure: `single-event ingest p50, ${READERS} worst reads (ms)`, value: underReads.p50Ms },
  { measure: `single-event ingest p99, ${READERS} worst reads (ms)`, value: underReads.p99Ms },
  { measure: `engine-free round trip p99, ${READERS} worst reads (ms)`, value: eventLoop.p99Ms },
  { measure: 'server max RSS (MiB)', value: maxRssMiB },
]);
console.log('read outcomes:', outcomes);
console.log('ingest burst:', burst);
await writeResults('reads-vs-ingest', results);
await server.stop();
await rm(dataDir, { recursive: true, force: true });
