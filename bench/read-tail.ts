// npm run bench:read-tail: one read's tail on a warm server over a loaded data directory, in rounds, without the 25
// minutes of a 10M bench/run.ts. The server runs as its own process (api/main.ts) with its scheduled jobs, as in
// bench/run.ts; this process only reads. BENCH_TAIL_READ: `hourly` (default: one customer's meter, 30 days, hourly)
// or `tenant-month` (the whole tenant's summary of a month, 10,000 rows at 5,000 customers). Each round also counts
// the full garbage collections of the server (its /metrics) and of this process.
// BENCH_TAIL_DATA_DIR: the data directory (default a new temporary one, removed at the end). One the engine has not
// opened yet (no store/ in it) is loaded first: BENCH_TAIL_EVENTS (default 1,000,000) bench events (bench/events.ts,
// 60 days, 1% redeliveries), then it waits until the reconciler has caught up (every window of the month reconciled).
// A directory loaded by an earlier run is read as it is: load 10M once (BENCH_TAIL_EVENTS=10000000, about 20
// minutes), then time as often as needed. BENCH_TAIL_ROUNDS (3) rounds of BENCH_TAIL_READS (200) reads, after
// BENCH_TAIL_WARM_SECONDS (20) of the server's first jobs. BENCH_TAIL_HOLD_MIB (0): Buffers this process holds while
// it reads, as bench/run.ts held its request bodies before `497a734` (about 2,400 MiB at 10M events).
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { eventBatches } from './events.js';
import { envNumber, ingestOverHttp, percentile, prepareBodies, writeResults } from './common.js';
import { startServer } from './server-process.js';
import { getTail, majorGcs, reconciledWindow } from './checks.js';
import { serverActivity } from './server-activity.js';

const EVENTS = envNumber('BENCH_TAIL_EVENTS', 1_000_000);
const ROUNDS = envNumber('BENCH_TAIL_ROUNDS', 3);
const READS = envNumber('BENCH_TAIL_READS', 200);
const WARM_SECONDS = envNumber('BENCH_TAIL_WARM_SECONDS', 20);
const HOLD_MIB = envNumber('BENCH_TAIL_HOLD_MIB', 0);
const READ = process.env.BENCH_TAIL_READ ?? 'hourly';
const KEY = 'bench-admin-key-0123456789abcdef';
const END = Date.UTC(2026, 10, 1);
const DAY = 86_400_000;
/** The reads it can time (BENCH_TAIL_READ), as bench/run.ts names them. */
const READS_BY_NAME: Record<string, { name: string; url: (i: number) => string }> = {
  hourly: {
    name: 'meter: one customer, 30 days, hourly',
    url: (i) => `/v1/meters/compute/usage?customerId=cust-${i % 50}&from=${END - 30 * DAY}&to=${END}&granularity=hour`,
  },
  'tenant-month': { name: 'summary: whole tenant, one month', url: () => '/v1/usage/summary?from=2026-10-01T00:00:00Z&to=2026-11-01T00:00:00Z&limit=10000' },
};
const given = process.env.BENCH_TAIL_DATA_DIR;
const dataDir = given ?? (await mkdtemp(join(tmpdir(), 'meterhouse-bench-tail-')));
const env = { DATA_DIR: dataDir, METERHOUSE_API_KEY: KEY, MAX_EVENTS_PER_REQUEST: '10000' };
const auth = { authorization: `Bearer ${KEY}` };
const loaded = await stat(join(dataDir, 'store')).then(
  () => true,
  () => false,
);

if (!loaded) {
  const server = await startServer(env);
  const bodies = prepareBodies(eventBatches({ events: EVENTS, customers: 5_000, days: 60, duplicateRate: 0.01, endMs: END }, 5_000));
  await ingestOverHttp(server.base, KEY, bodies, 16, 1_000_000);
  bodies.length = 0;
  const res = await fetch(`${server.base}/v1/meters`, {
    method: 'POST',
    headers: { ...auth, 'content-type': 'application/json' },
    body: JSON.stringify({ key: 'compute', metricName: 'compute.seconds', aggregation: 'SUM' }),
  });
  if (res.status !== 201) throw new Error(`creating the meter answered ${res.status}`);
  for (const started = performance.now(); ; await new Promise((r) => setTimeout(r, 10_000))) {
    if (await reconciledWindow({ base: server.base, key: KEY }, 'from=2026-10-01T00:00:00Z&to=2026-11-01T00:00:00Z')) break;
    if (performance.now() - started > 3_600_000) throw new Error('the reconciler did not catch up within an hour');
  }
  await server.stop();
}

const server = await startServer(env);
const api = { base: server.base, key: KEY };
await new Promise((r) => setTimeout(r, WARM_SECONDS * 1000));
const held = Array.from({ length: HOLD_MIB }, () => Buffer.alloc(1024 * 1024, 1));
const read = READS_BY_NAME[READ];
if (!read) throw new Error(`BENCH_TAIL_READ: one of ${Object.keys(READS_BY_NAME).join(', ')}`);
const rounds: Record<string, number>[] = [];
for (let round = 0; round < ROUNDS; round++) {
  const ms: number[] = [];
  let answerBytes = 0;
  const before = await serverActivity(server.base);
  const benchGcs = majorGcs();
  for (let i = 0; i < READS; i++) {
    const t0 = performance.now();
    const { status, bytes } = await getTail(api, read.url(i));
    if (status !== 200) throw new Error(`${read.name} answered ${status}`);
    ms.push(performance.now() - t0);
    answerBytes = bytes;
  }
  const benchGc = benchGcs.stop();
  const after = await serverActivity(server.base);
  ms.sort((a, b) => a - b);
  const r = { p50Ms: percentile(ms, 50), p90Ms: percentile(ms, 90), p99Ms: percentile(ms, 99), maxMs: ms.at(-1)! };
  rounds.push({
    ...Object.fromEntries(Object.entries(r).map(([k, v]) => [k, +v.toFixed(1)])),
    answerBytes,
    serverMajorGcs: after.majorGcs - before.majorGcs,
    serverMajorGcMs: +(after.majorGcMs - before.majorGcMs).toFixed(1),
    benchMajorGcs: benchGc.count,
  });
}
await server.stop();
if (!given) await rm(dataDir, { recursive: true, force: true });

console.log(`${read.name}: ${READS} reads a round, this process holding ${held.length} MiB of Buffers`);
console.table(rounds);
await writeResults('read-tail', {
  machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model, memoryGiB: Math.round(totalmem() / 2 ** 30), node: process.version, loadAverage: loadavg() },
  config: {
    dataDir: given ?? 'temporary',
    loadedNow: !loaded,
    eventsLoaded: loaded ? 'earlier' : EVENTS,
    rounds: ROUNDS,
    reads: READS,
    warmSeconds: WARM_SECONDS,
    holdMiB: HOLD_MIB,
    read: read.name,
  },
  rounds,
});
