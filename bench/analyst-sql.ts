// npm run bench:sql (also run by npm run bench): analyst SQL over BENCH_SQL_EVENTS events
// (default 10,000,000) of one tenant, written by the engine itself (INSERT ... SELECT, with
// the rollup and log views firing as on ingest). Times POST /v1/sql for a GROUP BY customer,
// day (BENCH_SQL_RUNS runs), then single-event ingest and an API summary read, each idle and while a heavy analyst query runs.
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../api/config.js';
import { createLogger } from '../api/logger.js';
import { startRuntime } from '../api/runtime.js';
import { execute } from '../sql/query.js';
import { writeTenant } from '../sql/queries/tenancy.js';
import { envNumber, percentile, writeResults } from './common.js';

const EVENTS = envNumber('BENCH_SQL_EVENTS', 10_000_000);
const CUSTOMERS = envNumber('BENCH_SQL_CUSTOMERS', 500);
const RUNS = envNumber('BENCH_SQL_RUNS', 10);
const CHUNK = 1_000_000;
const DAY = 86_400_000;
const END = Date.UTC(2026, 10, 1);
const TENANT = 'bench-sql';

const dataDir = await mkdtemp(join(tmpdir(), 'meterhouse-bench-sql-'));
const config = loadConfig({ ...process.env, DATA_DIR: dataDir, LOG_LEVEL: 'warn' });
const runtime = await startRuntime(config, createLogger(config.LOG_LEVEL));
const { db } = runtime.deps;
await writeTenant(db, TENANT, 'bench');
const { secret: sqlKey } = await runtime.deps.access.keys.create(TENANT, 'bench analyst', ['sql']);
const { secret: ingestKey } = await runtime.deps.access.keys.create(TENANT, 'bench ingest', ['events:write']);
const { secret: readKey } = await runtime.deps.access.keys.create(TENANT, 'bench reader', ['usage:read']);

// ---- load: 30 days, CUSTOMERS customers, engine-generated rows in chunks
const loadStarted = performance.now();
for (let from = 0; from < EVENTS; from += CHUNK) {
  await execute(
    db,
    'bench.sql.load',
    `INSERT INTO ${db.database}.usage_events (tenant_id, event_id, customer_id, metric_name, timestamp, quantity, dimensions, ingested_at)
SELECT {tenant:String}, concat('e-', toString(number)), concat('cust-', toString(cityHash64(number) % {customers:UInt32})), 'api.calls',
  fromUnixTimestamp64Milli(toInt64({end:Int64} - (number * 7919) % (30 * ${DAY})), 'UTC'),
  toDecimal128(number % 1000, 9) / 100, map('region', ['eu', 'us', 'ap'][number % 3 + 1]), now64(3)
FROM numbers({from:UInt64}, {count:UInt64})`,
    { tenant: TENANT, customers: CUSTOMERS, end: END, from, count: Math.min(CHUNK, EVENTS - from) },
  );
  console.log(`loaded ${Math.min(from + CHUNK, EVENTS).toLocaleString()} events`);
}
const loadSeconds = (performance.now() - loadStarted) / 1000;

const post = (path: string, key: string, body: unknown) =>
  Promise.resolve(
    runtime.app.request(path, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify(body) }),
  );

async function timeSql(name: string, query: string) {
  const ms: number[] = [];
  let rows = 0;
  for (let i = 0; i < RUNS; i++) {
    const t0 = performance.now();
    const res = await post('/v1/sql', sqlKey, { query });
    const body = (await res.json()) as { rows: number; truncated: boolean };
    if (res.status !== 200 || body.truncated) throw new Error(`${name} answered ${res.status}: ${JSON.stringify(body).slice(0, 300)}`);
    ms.push(performance.now() - t0);
    rows = body.rows;
  }
  ms.sort((a, b) => a - b);
  return { name, runs: RUNS, rows, p50Ms: +percentile(ms, 50).toFixed(1), maxMs: +ms.at(-1)!.toFixed(1) };
}

const BY_DAY = 'SELECT customer_id, toDate(timestamp) AS day, count() AS events FROM events GROUP BY customer_id, day';
const BY_DAY_SUM = 'SELECT customer_id, toDate(timestamp) AS day, count() AS events, sum(quantity) AS total FROM events GROUP BY customer_id, day';
const queries = [await timeSql('GROUP BY customer, day: count', BY_DAY), await timeSql('GROUP BY customer, day: count and exact sum', BY_DAY_SUM)];
await execute(db, 'bench.sql.optimize', `OPTIMIZE TABLE ${db.database}.usage_events FINAL`);
queries.push(await timeSql('after OPTIMIZE FINAL: count', BY_DAY), await timeSql('after OPTIMIZE FINAL: count and exact sum', BY_DAY_SUM));

// ---- ingest latency, idle and while a heavy analyst query runs on the analyst connection
async function ingestLatencies(n: number, prefix: string) {
  const ms: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const res = await post('/v1/events', ingestKey, { eventId: `${prefix}-${i}`, customerId: 'cust-live', metricName: 'api.calls', quantity: 1 });
    if (res.status !== 200) throw new Error(`ingest answered ${res.status}`);
    await res.arrayBuffer();
    ms.push(performance.now() - t0);
  }
  return ms.sort((a, b) => a - b);
}
const idle = await ingestLatencies(100, 'idle');
// The same API read (bound parameters, on a read connection of its own) idle and during the analyst query, so its
// figure during the query says whether the read waits for it; with the day windows it read from raw events (meta.rawWindows:
// the reconciler may or may not have reached these engine-written events). The idle reads run twice and the second pass is
// timed, so both sets read with warm caches.
const READS = 5;
async function apiReads(): Promise<{ ms: number[]; rawWindows: number[] }> {
  const ms: number[] = [];
  const rawWindows: number[] = [];
  for (let i = 0; i < READS; i++) {
    const t0 = performance.now();
    const res = await runtime.app.request(`/v1/usage/summary?customerId=cust-${i}&from=${END - DAY}&to=${END}`, {
      headers: { authorization: `Bearer ${readKey}` },
    });
    if (res.status !== 200) throw new Error(`the summary answered ${res.status}`);
    const body = (await res.json()) as { meta: { rawWindows: number } };
    ms.push(performance.now() - t0);
    rawWindows.push(body.meta.rawWindows);
  }
  return { ms: ms.sort((a, b) => a - b), rawWindows };
}
await apiReads();
const readsIdle = await apiReads();
const readFigures = (r: { ms: number[]; rawWindows: number[] }) => ({
  p50Ms: +percentile(r.ms, 50).toFixed(1),
  maxMs: +r.ms.at(-1)!.toFixed(1),
  rawWindows: r.rawWindows,
});
const HEAVY = 'SELECT customer_id, uniqExact(event_id) AS u, sum(quantity * quantity) AS s FROM events GROUP BY customer_id ORDER BY s DESC';
let heavyRuns = 0;
const heavyMs: number[] = [];
let stop = false;
const heavy = (async () => {
  while (!stop) {
    const t0 = performance.now();
    const res = await post('/v1/sql', sqlKey, { query: HEAVY });
    await res.arrayBuffer();
    heavyMs.push(performance.now() - t0);
    heavyRuns++;
  }
})();
const during = await ingestLatencies(200, 'during');
const readsDuring = await apiReads();
stop = true;
await heavy;

const results = {
  machine: { cpus: cpus().length, memGiB: +(totalmem() / 1024 ** 3).toFixed(1), node: process.version, loadAverage1m: +loadavg()[0]!.toFixed(2) },
  events: EVENTS,
  customers: CUSTOMERS,
  loadSeconds: +loadSeconds.toFixed(1),
  queries,
  ingest: {
    idle: { p50Ms: +percentile(idle, 50).toFixed(1), p99Ms: +percentile(idle, 99).toFixed(1) },
    duringHeavyAnalystQuery: {
      p50Ms: +percentile(during, 50).toFixed(1),
      p99Ms: +percentile(during, 99).toFixed(1),
      heavyQueriesCompleted: heavyRuns,
      heavyQueryP50Ms: +percentile(
        heavyMs.sort((a, b) => a - b),
        50,
      ).toFixed(1),
    },
  },
  apiReadIdle: readFigures(readsIdle),
  apiReadDuringHeavyAnalystQuery: readFigures(readsDuring),
};
console.table(queries);
console.log(JSON.stringify(results, null, 2));
await writeResults('analyst-sql', results);
await runtime.close();
await rm(dataDir, { recursive: true, force: true });
