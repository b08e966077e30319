// npm run bench:tiers: what each table an event is written to costs end to end on the HTTP path. The same backfill
// (BENCH_TIER_EVENTS, default 2,000,000; 60 days, 1% redeliveries, 5,000 events a request, 16 clients) goes over HTTP
// into a fresh server (its own process, scheduled jobs off) five ways: the product's schema; without the billing log's
// view; with the hour tier, then the day tier, writing none of these events; and without all three. The server's CPU
// is counted from the first request until the engine is quiet again (its merges of what the ingest wrote included),
// by thread: the engine's query threads, its merges, Node's threads. BENCH_TIER_ROUNDS (default 2) rounds, the ways
// alternated within each.
//
// How a table is left out: a tier writes nothing for these events when its retention is shorter than their age
// (ROLLUP_HOUR_RETENTION_DAYS=1: the events end on 2026-11-01, and a view writes no window its retention deletes,
// sql/retention.ts); its view still reads each block. The billing log has no retention of its own, so its
// view is dropped from the migrated schema before the server starts: a schema the product never runs, measured only
// here. The rollup tiers' minute view writes nothing for events this old in every way.
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, totalmem, tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../api/config.js';
import { createLogger } from '../api/logger.js';
import { startRuntime } from '../api/runtime.js';
import { mvName, TABLES } from '../sql/names.js';
import { execute } from '../sql/query.js';
import { envNumber, ingestOverHttp, prepareBodies, writeResults } from './common.js';
import { eventBatches, newTruth } from './events.js';
import { cpuByThreadKind, quietCpuSeconds, startServer } from './server-process.js';

const EVENTS = envNumber('BENCH_TIER_EVENTS', 2_000_000);
const ROUNDS = envNumber('BENCH_TIER_ROUNDS', 2);
const KEY = 'bench-admin-key-0123456789abcdef';
const NEVER = '0 0 0 1 1 *';
const SERVER_ENV = {
  METERHOUSE_API_KEY: KEY,
  MAX_EVENTS_PER_REQUEST: '10000',
  ROLLUP_RECONCILE_CRON: NEVER,
  ROLLUP_COMPACT_CRON: NEVER,
  BILLING_CLOSE_CRON: NEVER,
  ALERTS_SWEEP_CRON: NEVER,
};
const WAYS: { name: string; env: Record<string, string>; dropLogView?: true }[] = [
  { name: 'the product (log, hour and day tiers)', env: {} },
  { name: 'without the billing log', env: {}, dropLogView: true },
  { name: 'the hour tier writing nothing', env: { ROLLUP_HOUR_RETENTION_DAYS: '1' } },
  { name: 'the day tier writing nothing', env: { ROLLUP_DAY_RETENTION_DAYS: '1' } },
  { name: 'none of the three', env: { ROLLUP_HOUR_RETENTION_DAYS: '1', ROLLUP_DAY_RETENTION_DAYS: '1' }, dropLogView: true },
];

const bodies = prepareBodies(
  eventBatches({ events: EVENTS, customers: 5_000, days: 60, duplicateRate: 0.01, endMs: Date.UTC(2026, 10, 1) }, 5_000, newTruth()),
);

const per1M = (seconds: number) => +((seconds / EVENTS) * 1e6).toFixed(1);

async function measure(way: (typeof WAYS)[number], round: number) {
  const dataDir = await mkdtemp(join(tmpdir(), 'meterhouse-bench-tiers-'));
  try {
    const env = { ...SERVER_ENV, ...way.env, DATA_DIR: dataDir };
    const runtime = await startRuntime(loadConfig({ ...env, LOG_LEVEL: 'silent' }), createLogger('silent'));
    if (way.dropLogView) await execute(runtime.deps.db, 'bench.drop_log_view', `DROP VIEW ${runtime.deps.db.database}.${mvName(TABLES.usageEventLog)}`);
    await runtime.close();
    const server = await startServer(env);
    try {
      const before = await server.threadCpuSeconds();
      const cpu0 = await server.cpuSeconds();
      const run = await ingestOverHttp(server.base, KEY, bodies, 16, Number.MAX_SAFE_INTEGER);
      await quietCpuSeconds(() => server.cpuSeconds());
      const used = cpuByThreadKind(before, await server.threadCpuSeconds());
      return {
        way: way.name,
        round,
        eventsPerSecond: Math.round(run.sent / run.seconds),
        cpuPer1M: per1M((await server.cpuSeconds()) - cpu0),
        queries: per1M(used.queries),
        merges: per1M(used.merges),
        node: per1M(used.node),
      };
    } finally {
      await server.stop();
    }
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
}

console.log(
  `meterhouse bench:tiers — ${cpus().length} cores, ${Math.round(totalmem() / 2 ** 30)} GiB, ${process.version}; ${EVENTS.toLocaleString()} events a way, ${ROUNDS} rounds`,
);
const rows = [];
for (let round = 1; round <= ROUNDS; round++) for (const way of WAYS) rows.push(await measure(way, round));
console.log('server CPU s per 1M events from the first request until the engine is quiet (queries / merges / Node threads):');
console.table(rows);
await writeResults('tiers', { events: EVENTS, rounds: ROUNDS, rows });
process.exit(0);
