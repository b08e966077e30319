// npm run bench: ingest a generated event set through the real HTTP API on the embedded
// engine, then time usage queries. Prints a table and writes the figures as JSON.
// Size and shape: BENCH_EVENTS (default 10,000,000), BENCH_CUSTOMERS, BENCH_BATCH, BENCH_CLIENTS.
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { serve } from '@hono/node-server';
import { loadConfig } from '../api/config.js';
import { createLogger } from '../api/logger.js';
import { startRuntime } from '../api/runtime.js';
import { eventBatches } from './events.js';
import { ingestOverHttp, percentile, writeResults } from './common.js';
import { benchPortal } from './portal.js';

const num = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const EVENTS = num('BENCH_EVENTS', 10_000_000);
const CUSTOMERS = num('BENCH_CUSTOMERS', 5_000);
const BATCH = num('BENCH_BATCH', 5_000);
const CLIENTS = num('BENCH_CLIENTS', 4);
const QUERY_RUNS = num('BENCH_QUERY_RUNS', 30);
const KEY = 'bench-admin-key-0123456789abcdef';
const END = Date.UTC(2026, 10, 1);

const dataDir = await mkdtemp(join(tmpdir(), 'meterhouse-bench-'));
const config = loadConfig({ ...process.env, DATA_DIR: dataDir, METERHOUSE_API_KEY: KEY, LOG_LEVEL: 'warn', MAX_EVENTS_PER_REQUEST: String(Math.max(BATCH, 10_000)) });
const runtime = await startRuntime(config, createLogger(config.LOG_LEVEL));
const server = serve({ fetch: runtime.app.fetch, port: 0, hostname: '127.0.0.1' });
await new Promise((r) => server.once('listening', r));
const address = server.address();
const base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
const auth = { authorization: `Bearer ${KEY}` };

// ---- ingest: CLIENTS concurrent HTTP clients, BATCH events per request
const batches = eventBatches({ events: EVENTS, customers: CUSTOMERS, days: 60, duplicateRate: 0.01, endMs: END }, BATCH);
const { sent, accepted, duplicates, seconds: ingestSeconds, requestMs } = await ingestOverHttp(base, KEY, batches, CLIENTS, 1_000_000);

// ---- queries
async function timeQuery(name: string, url: () => string) {
  const ms: number[] = [];
  for (let i = 0; i < QUERY_RUNS; i++) {
    const t0 = performance.now();
    const res = await fetch(`${base}${url()}`, { headers: auth });
    if (res.status !== 200) throw new Error(`${name} answered ${res.status}`);
    await res.arrayBuffer();
    ms.push(performance.now() - t0);
  }
  ms.sort((a, b) => a - b);
  return { name, runs: QUERY_RUNS, p50Ms: +percentile(ms, 50).toFixed(1), p99Ms: +percentile(ms, 99).toFixed(1) };
}
// meters over the same data: defined after ingest, they answer from the rollups
for (const meter of [
  { key: 'api-calls', metricName: 'api.calls', aggregation: 'SUM' },
  { key: 'compute', metricName: 'compute.seconds', aggregation: 'SUM' },
]) {
  const res = await fetch(`${base}/v1/meters`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify(meter) });
  if (res.status !== 201) throw new Error(`creating meter answered ${res.status}`);
}
const DAY = 86_400_000;
let i = 0;
const queries = [
  await timeQuery('meter: one customer, 30 days, hourly', () => `/v1/meters/compute/usage?customerId=cust-${i++ % 50}&from=${END - 30 * DAY}&to=${END}&granularity=hour`),
  await timeQuery('meter: whole tenant, monthly total', () => `/v1/meters/api-calls/usage?from=2026-10-01T00:00:00Z&to=2026-11-01T00:00:00Z&granularity=month`),
  await timeQuery('meter: one customer, 30 days, hourly, America/New_York', () => `/v1/meters/compute/usage?customerId=cust-${i++ % 50}&from=${END - 30 * DAY}&to=${END}&granularity=hour&tz=America/New_York`),
  await timeQuery('summary (raw, FINAL): one customer, 30 days', () => `/v1/usage/summary?customerId=cust-${i++ % 50}&from=${END - 30 * DAY}&to=${END}`),
  await timeQuery('summary (raw, FINAL): whole tenant, one month', () => `/v1/usage/summary?from=2026-10-01T00:00:00Z&to=2026-11-01T00:00:00Z&limit=10000`),
];
// The customer dashboard: its API calls for one customer's current period (the product's clock just before END, so that period holds data), and the page.
const portal = await benchPortal(runtime, { atMs: END - 60_000, key: KEY, customers: Array.from({ length: 50 }, (_, n) => `cust-${n}`), meters: ['api-calls', 'compute'], runs: QUERY_RUNS, pageRuns: num('BENCH_PAGE_RUNS', 10) });

const results = {
  machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model, memoryGiB: Math.round(totalmem() / 1024 ** 3), node: process.version },
  config: { events: EVENTS, customers: CUSTOMERS, batch: BATCH, clients: CLIENTS, fsync: config.ENGINE_FSYNC },
  ingest: {
    events: sent,
    accepted,
    duplicates,
    seconds: +ingestSeconds.toFixed(1),
    eventsPerSecond: Math.round(sent / ingestSeconds),
    requestP50Ms: +percentile(requestMs, 50).toFixed(1),
    requestP99Ms: +percentile(requestMs, 99).toFixed(1),
  },
  queries,
  portal,
};

console.log(`\nmeterhouse bench — ${results.machine.cpus} cores, ${results.machine.memoryGiB} GiB, ${results.machine.node}`);
console.log(`ingest via POST /v1/events: ${sent.toLocaleString()} events (${accepted.toLocaleString()} accepted, ${duplicates.toLocaleString()} duplicates) in ${results.ingest.seconds} s`);
console.table([
  { measure: 'ingest rate (events/s)', value: results.ingest.eventsPerSecond },
  { measure: `request p50 (ms, ${BATCH} events)`, value: results.ingest.requestP50Ms },
  { measure: `request p99 (ms, ${BATCH} events)`, value: results.ingest.requestP99Ms },
  ...[...queries, ...portal.calls, portal.firstRender, ...portal.firstRenderParts].flatMap((q) => [
    { measure: `${q.name} p50 (ms)`, value: q.p50Ms },
    { measure: `${q.name} p99 (ms)`, value: q.p99Ms },
  ]),
]);
await writeResults('bench', results);

server.close();
await runtime.close();
await rm(dataDir, { recursive: true, force: true });
