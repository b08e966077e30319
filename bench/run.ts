// npm run bench: direct ingest through the real HTTP API on the embedded engine, checked exact
// against the generator's truth, then freshness, reads, storage and memory. The server runs as
// its own process (api/main.ts); request bodies are built before the clock starts. First the
// stage table (bench/stages.ts) on a separate engine: each stage's rate and the engine's own
// INSERT ... SELECT ceiling for the same rows through the same schema and views.
// Size and shape: BENCH_EVENTS (default 10,000,000; 60 days, 1% redeliveries), BENCH_LIVE_EVENTS
// (default a fifth of it, all in the last hour), BENCH_STAGE_EVENTS (default BENCH_EVENTS),
// BENCH_CUSTOMERS, BENCH_BATCH, BENCH_CLIENTS, BENCH_QUERY_RUNS (timed calls of each read after its first,
// default 100), BENCH_SLOW_QUERY_RUNS (the same for the summaries that read raw events, default 30),
// BENCH_FRESHNESS_RUNS; BENCH_RANDOM_IDS=1 for ids in random order (bench/events.ts); BENCH_COMPACT_CRON and
// BENCH_COMPACT_SETTLE_SECONDS (the server's rollups.compact schedule, default every 15 s with 60 s to settle, against
// the product's 5 minutes and 600 s, so that the bench sees the compacted months within minutes), BENCH_COMPACT_WAIT_SECONDS
// (how long it waits for them, default 900; BENCH_COMPACT_SETTLE_SECONDS=86400 with a wait of 0: a run without compaction);
// BENCH_RECONCILE_WAIT_SECONDS (how long it waits for the reconciler to catch up after the reads, default 1200: after a
// run of d seconds the reconciler rests 3d, ROLLUP_RECONCILE_MAX_SHARE 0.25, and a run after a 10M backfill takes 200 s or more).
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { TABLES } from '../sql/names.js';
import { eventBatches, newTruth, truthSums } from './events.js';
import { envNumber, ingestOverHttp, percentile, prepareBodies, type IngestRun, writeResults } from './common.js';
import { cpuByThreadKind, startServer } from './server-process.js';
import { bytesPerEvent, freshness, reconciledWindow, sameDecimal, summaryTotals, timeReads } from './checks.js';
import { jobsBetween, serverActivity } from './server-activity.js';
import { measureStages, STAGE } from './stages.js';
import { benchPortal } from './portal.js';

const EVENTS = envNumber('BENCH_EVENTS', 10_000_000);
const LIVE_EVENTS = envNumber('BENCH_LIVE_EVENTS', Math.round(EVENTS / 5));
const STAGE_EVENTS = envNumber('BENCH_STAGE_EVENTS', EVENTS);
const CUSTOMERS = envNumber('BENCH_CUSTOMERS', 5_000);
const BATCH = envNumber('BENCH_BATCH', 5_000);
const CLIENTS = envNumber('BENCH_CLIENTS', 16);
const QUERY_RUNS = envNumber('BENCH_QUERY_RUNS', 100);
const SLOW_QUERY_RUNS = envNumber('BENCH_SLOW_QUERY_RUNS', 30);
const FRESHNESS_RUNS = envNumber('BENCH_FRESHNESS_RUNS', 50);
const COMPACT_CRON = process.env.BENCH_COMPACT_CRON ?? '*/15 * * * * *';
const COMPACT_SETTLE_SECONDS = envNumber('BENCH_COMPACT_SETTLE_SECONDS', 60);
const COMPACT_WAIT_SECONDS = envNumber('BENCH_COMPACT_WAIT_SECONDS', 900);
const RECONCILE_WAIT_SECONDS = envNumber('BENCH_RECONCILE_WAIT_SECONDS', 1200);
const KEY = 'bench-admin-key-0123456789abcdef';
const OPERATOR_KEY = 'bench-operator-key-0123456789abcdef';
const END = Date.UTC(2026, 10, 1);
const DAY = 86_400_000;
const load = () => loadavg().map((l) => +l.toFixed(2));
const loadAtStart = load();

// ---- stage table, on its own engine, before the server starts
const stages = STAGE_EVENTS > 0 ? await measureStages(STAGE_EVENTS) : [];

// ---- bodies, built before any clock starts
const truth = newTruth();
const backfill = prepareBodies(eventBatches({ events: EVENTS, customers: CUSTOMERS, days: 60, duplicateRate: 0.01, endMs: END }, BATCH, truth));
const liveEnd = Date.now();
const live = prepareBodies(
  eventBatches({ events: LIVE_EVENTS, customers: CUSTOMERS, days: 55 / 1440, duplicateRate: 0.01, endMs: liveEnd }, BATCH, truth, 'live'),
);

const dataDir = await mkdtemp(join(tmpdir(), 'meterhouse-bench-'));
const server = await startServer({
  DATA_DIR: dataDir,
  METERHOUSE_API_KEY: KEY,
  METERHOUSE_OPERATOR_KEY: OPERATOR_KEY,
  MAX_EVENTS_PER_REQUEST: String(Math.max(BATCH, 10_000)),
  ROLLUP_COMPACT_CRON: COMPACT_CRON,
  ROLLUP_COMPACT_SETTLE_SECONDS: String(COMPACT_SETTLE_SECONDS),
});
const api = { base: server.base, key: KEY };

/** Where the server's CPU went, per 1M events, by kind of thread (cpuByThreadKind). */
function cpuByThread(before: Map<string, number>, after: Map<string, number>, events: number) {
  const { queries, merges, node } = cpuByThreadKind(before, after);
  const per1M = (seconds: number) => +((seconds / events) * 1e6).toFixed(1);
  return { cpuPer1MEngineQueries: per1M(queries), cpuPer1MEngineMerges: per1M(merges), cpuPer1MNodeThreads: per1M(node) };
}

async function ingest(name: string, bodies: typeof backfill) {
  const cpu0 = await server.cpuSeconds();
  const threads0 = await server.threadCpuSeconds();
  const run: IngestRun = await ingestOverHttp(server.base, KEY, bodies, CLIENTS, 1_000_000);
  const cpu = (await server.cpuSeconds()) - cpu0;
  const threads = cpuByThread(threads0, await server.threadCpuSeconds(), run.sent);
  return {
    name,
    events: run.sent,
    accepted: run.accepted,
    duplicates: run.duplicates,
    seconds: +run.seconds.toFixed(1),
    eventsPerSecond: Math.round(run.sent / run.seconds),
    serverCpuSecondsPer1M: +((cpu / run.sent) * 1e6).toFixed(1),
    ...threads,
    requestP50Ms: +percentile(run.requestMs, 50).toFixed(1),
    requestP99Ms: +percentile(run.requestMs, 99).toFixed(1),
    loadAverage: load(),
  };
}
const jobsAtStart = (await serverActivity(server.base)).jobs;
const ingests = [await ingest('backfill: 60 days, 1% redeliveries', backfill), await ingest('live: last hour, 1% redeliveries', live)];
// Sent: let the bodies go. Kept, they are this process's Buffers to the end (about 2.4 GB at 10M events), and the
// reads below were timed with them held: with 2,400 MiB of Buffers held by the load generator, 10M hourly reads had a
// p99 of 35.9-45.5 ms against 21.9-24.6 ms without (npm run bench:read-tail; docs/benchmarks.md, "The hourly read's tail").
backfill.length = 0;
live.length = 0;

// ---- exact: the summary of everything equals the generator's truth
const totals = await summaryTotals(api, 0, liveEnd + DAY);
const expected = truthSums(truth);
const exact = totals.events === truth.events && Object.entries(expected).every(([m, s]) => sameDecimal(totals.sums[m] ?? '0', s));
if (!exact) console.error('NOT EXACT', { summary: totals, truth: { events: truth.events, sums: expected } });

// ---- freshness: ack -> visible in the summary, one event at a time
const activityBeforeFreshness = await serverActivity(server.base);
const probes = await freshness(api, FRESHNESS_RUNS, Date.now());
const activityAfterFreshness = await serverActivity(server.base);
const fresh = probes.map((p) => p.ms).sort((a, b) => a - b);
const ackMs = probes.map((p) => p.ackMs).sort((a, b) => a - b);

// ---- reads over the loaded data
for (const meter of [
  { key: 'api-calls', metricName: 'api.calls', aggregation: 'SUM' },
  { key: 'compute', metricName: 'compute.seconds', aggregation: 'SUM' },
  { key: 'compute-p99', metricName: 'compute.seconds', aggregation: 'P99' },
]) {
  const res = await fetch(`${server.base}/v1/meters`, {
    method: 'POST',
    headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify(meter),
  });
  if (res.status !== 201) throw new Error(`creating meter answered ${res.status}`);
}
const month = 'from=2026-10-01T00:00:00Z&to=2026-11-01T00:00:00Z';
const customer = (i: number) => `cust-${i % 50}`;
const jobsBeforeReads = (await serverActivity(server.base)).jobs;
const meterReads = [
  {
    name: 'meter: one customer, 30 days, hourly',
    url: (i: number) => `/v1/meters/compute/usage?customerId=${customer(i)}&from=${END - 30 * DAY}&to=${END}&granularity=hour`,
  },
  {
    name: 'meter: one customer, 30 days, hourly, America/New_York',
    url: (i: number) => `/v1/meters/compute/usage?customerId=${customer(i)}&from=${END - 30 * DAY}&to=${END}&granularity=hour&tz=America/New_York`,
  },
  { name: 'meter: whole tenant, monthly total', url: () => `/v1/meters/api-calls/usage?${month}&granularity=month` },
  { name: 'meter P99: one customer, one month', url: (i: number) => `/v1/meters/compute-p99/usage?customerId=${customer(i)}&${month}&granularity=month` },
];
const reads = await timeReads(
  api,
  [
    ...meterReads,
    // Before the reconciler's first pass over the ingest, the summary reads most windows from raw events: seconds each.
    {
      name: 'summary: one customer, 30 days',
      url: (i) => `/v1/usage/summary?customerId=${customer(i)}&from=${END - 30 * DAY}&to=${END}`,
      runs: SLOW_QUERY_RUNS,
    },
    { name: 'summary: whole tenant, one month', url: () => `/v1/usage/summary?${month}&limit=10000`, runs: SLOW_QUERY_RUNS },
    // The same reads over a window 1 ms short of whole hours: raw events only (FINAL), as before issue #14.
    {
      name: 'summary, raw only: one customer, 30 days - 1 ms',
      url: (i) => `/v1/usage/summary?customerId=${customer(i)}&from=${END - 30 * DAY + 1}&to=${END}`,
      runs: SLOW_QUERY_RUNS,
    },
    {
      name: 'summary, raw only: whole tenant, one month - 1 ms',
      url: () => `/v1/usage/summary?from=${Date.UTC(2026, 9, 1) + 1}&to=${END}&limit=10000`,
      runs: SLOW_QUERY_RUNS,
    },
  ],
  QUERY_RUNS,
);

// ---- the summary once the reconciler has caught up with the ingest (its watermark trails each run by 2 minutes)
const jobsAfterReads = (await serverActivity(server.base)).jobs;
const reconciledAfter = performance.now();
const caughtUp = () => reconciledWindow(api, month);
while (!(await caughtUp()) && performance.now() - reconciledAfter < RECONCILE_WAIT_SECONDS * 1000) await new Promise((r) => setTimeout(r, 2_000));
const waitedSeconds = Math.round((performance.now() - reconciledAfter) / 1000);
const jobsAfterWait = (await serverActivity(server.base)).jobs;
// What the scheduled jobs did in each phase (runs and seconds): the reads share the engine with them.
const jobs = {
  ingestAndChecks: jobsBetween(jobsAtStart, jobsBeforeReads),
  reads: jobsBetween(jobsBeforeReads, jobsAfterReads),
  waitForReconciler: jobsBetween(jobsAfterReads, jobsAfterWait),
};
const reconciledReads = (phase: string) => [
  { name: `summary, ${phase}: one customer, 30 days`, url: (i: number) => `/v1/usage/summary?customerId=${customer(i)}&from=${END - 30 * DAY}&to=${END}` },
  { name: `summary, ${phase}: whole tenant, one month`, url: () => `/v1/usage/summary?${month}&limit=10000` },
  // The meter reads again, the reconciler's first pass over the ingest done: the same reads without it beside them.
  ...meterReads.map((r) => ({ ...r, name: r.name.replace('meter', `meter, ${phase}`) })),
];
const reconciled = await caughtUp();
const readsReconciled = reconciled ? await timeReads(api, reconciledReads('reconciled'), QUERY_RUNS) : [];

// ---- the same reads once rollups.compact has merged every past month of each tier into one part (its gauge on /metrics)
const monthsSplit = async () => {
  const text = await (await fetch(`${server.base}/metrics`)).text();
  return [...text.matchAll(/^meterhouse_rollup_months_split\{tier="\w+"\} (\d+)$/gm)].reduce((n, m) => n + Number(m[1]), 0);
};
const compactedAfter = performance.now();
while ((await monthsSplit()) > 0 && performance.now() - compactedAfter < COMPACT_WAIT_SECONDS * 1000) await new Promise((r) => setTimeout(r, 5_000));
const compactWaitedSeconds = Math.round((performance.now() - compactedAfter) / 1000);
const jobsAfterCompaction = (await serverActivity(server.base)).jobs;
const readsCompacted = (await monthsSplit()) === 0 && (await caughtUp()) ? await timeReads(api, reconciledReads('compacted'), QUERY_RUNS) : [];

// ---- the customer dashboard: its API calls for one customer's current period (the live phase put events there), and the page
const portal = await benchPortal({
  base: server.base,
  key: KEY,
  // A link per timed visit, so that every first visit is a link's first (the customers' ids as bench/events.ts names them).
  customers: Array.from({ length: Math.min(QUERY_RUNS, CUSTOMERS) }, (_, n) => `cust-${n}`),
  meters: ['api-calls', 'compute'],
  runs: QUERY_RUNS,
  pageRuns: envNumber('BENCH_PAGE_RUNS', 10),
});

// ---- storage and memory
const stored = truth.events + FRESHNESS_RUNS;
const storage = await bytesPerEvent(api, OPERATOR_KEY, stored, [
  TABLES.usageEvents,
  TABLES.usageEventLog,
  TABLES.usagePerMinute,
  TABLES.usagePerHour,
  TABLES.usagePerDay,
  TABLES.usageEventIds,
]);
const peakRssMiB = await server.peakRssMiB();
await server.stop();
await rm(dataDir, { recursive: true, force: true });

const ceiling = stages.find((s) => s.stage === STAGE.ceiling)?.rowsPerSecond;
const results = {
  machine: {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model,
    memoryGiB: Math.round(totalmem() / 1024 ** 3),
    node: process.version,
    loadAverageAtStart: loadAtStart,
    loadAverageAtEnd: load(),
  },
  config: { events: EVENTS, liveEvents: LIVE_EVENTS, stageEvents: STAGE_EVENTS, customers: CUSTOMERS, batch: BATCH, clients: CLIENTS },
  stages,
  ingest: ingests.map((r) => ({ ...r, ratioToCeiling: ceiling ? +(r.eventsPerSecond / ceiling).toFixed(2) : null })),
  exact: { exact, summaryEvents: totals.events, truthEvents: truth.events, sums: totals.sums, truthSums: expected },
  freshness: {
    runs: FRESHNESS_RUNS,
    p50Ms: +percentile(fresh, 50).toFixed(1),
    p99Ms: +percentile(fresh, 99).toFixed(1),
    // What a slow probe was: one slow read or several (polls), a slow acknowledgement, and what the server did meanwhile.
    ackP50Ms: +percentile(ackMs, 50).toFixed(1),
    ackP99Ms: +percentile(ackMs, 99).toFixed(1),
    probesWithMoreThanOnePoll: probes.filter((p) => p.polls > 1).length,
    slowest: [...probes].sort((a, b) => b.ms - a.ms).slice(0, 5),
    eventLoopMaxMs: activityAfterFreshness.eventLoopMaxMs,
    jobsFinished: jobsBetween(activityBeforeFreshness.jobs, activityAfterFreshness.jobs),
  },
  reads,
  readsReconciled: { caughtUp: reconciled, waitedSeconds, reads: readsReconciled },
  readsCompacted: { compactCron: COMPACT_CRON, compactSettleSeconds: COMPACT_SETTLE_SECONDS, waitedSeconds: compactWaitedSeconds, reads: readsCompacted },
  jobs: { ...jobs, reconciledReadsAndWaitForCompaction: jobsBetween(jobsAfterWait, jobsAfterCompaction) },
  portal,
  storage,
  serverPeakRssMiB: peakRssMiB,
};

console.log(
  `\nmeterhouse bench — ${results.machine.cpus} cores, ${results.machine.memoryGiB} GiB, ${results.machine.node}, load ${loadAtStart.join(' ')} -> ${results.machine.loadAverageAtEnd.join(' ')}`,
);
console.log(`stages, ${STAGE_EVENTS.toLocaleString()} events:`);
console.table(stages);
console.log('direct ingest over HTTP (server in its own process):');
console.table(results.ingest);
console.log(`exact: ${exact} (summary ${totals.events.toLocaleString()} events, truth ${truth.events.toLocaleString()})`);
console.log(
  `freshness, ack -> visible in the summary: p50 ${results.freshness.p50Ms} ms, p99 ${results.freshness.p99Ms} ms (ack p50 ${results.freshness.ackP50Ms} / p99 ${results.freshness.ackP99Ms} ms; ${results.freshness.probesWithMoreThanOnePoll} probes needed more than one read; server event loop max ${results.freshness.eventLoopMaxMs} ms)`,
);
console.log('slowest freshness probes (ms: ack -> visible; polls: summary reads; atS: seconds into the probes):');
console.table(results.freshness.slowest);
console.log('scheduled jobs during the freshness probes:');
console.table(results.freshness.jobsFinished);
console.table(reads);
for (const [phase, runs] of Object.entries(results.jobs)) {
  console.log(`scheduled jobs during ${phase} (runs finished, seconds spent in them):`);
  console.table(runs);
}
console.log(
  reconciled
    ? `after the reconciler caught up (waited ${waitedSeconds} s):`
    : `the reconciler did not catch up within ${RECONCILE_WAIT_SECONDS} s (BENCH_RECONCILE_WAIT_SECONDS): no reconciled or compacted reads`,
);
console.table(readsReconciled);
console.log(
  `after rollups.compact merged every past month (every ${COMPACT_CRON}, ${COMPACT_SETTLE_SECONDS} s to settle; waited ${compactWaitedSeconds} s after the reads above):`,
);
console.table(readsCompacted);
console.log('customer dashboard (portal API and page):');
console.table([...portal.calls, portal.firstRender, ...portal.firstRenderParts]);
console.table(storage);
console.log(`server peak RSS: ${peakRssMiB} MiB`);
await writeResults('bench', results);
if (!exact) process.exitCode = 1;
