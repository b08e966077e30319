// npm run bench:codecs: what the raw tables' codecs (migration 24, RAW_COLUMN_CODECS) cost and
// save. On a fresh embedded engine, BENCH_CODEC_EVENTS (default 1,000,000) of the bench's events over
// 60 days (BENCH_RANDOM_IDS=1 for ids in random order) go into two copies of usage_events without
// views: one with the migration's codecs, one with every codec removed (the engine's default, LZ4).
// Both are merged to one part per partition, then compared: bytes per event on disk and per column,
// the insert and merge times, the time to read each changed column on one engine thread, and the
// writer's identity lookup (10,000 stored ids), whose column keeps the default.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../api/config.js';
import { createLogger } from '../api/logger.js';
import { startRuntime } from '../api/runtime.js';
import { TABLES } from '../sql/names.js';
import { execute, insertRows } from '../sql/query.js';
import { RAW_COLUMN_CODECS } from '../sql/datasets/usage-events.js';
import type { NormaliseContext } from '../ingest/normalise.js';
import { eventBatches } from './events.js';
import { parseBodies } from './stages.js';
import { envNumber, percentile, writeResults } from './common.js';

const EVENTS = envNumber('BENCH_CODEC_EVENTS', 1_000_000);
const BATCH = 25_000;
const RUNS = 9;
const END = Date.UTC(2026, 10, 1);
const VARIANTS = { default: 'bench_codecs_default', migration24: 'bench_codecs_migration24' } as const;
type Variant = keyof typeof VARIANTS;
const VARIANT_TABLES = `'${Object.values(VARIANTS).join("', '")}'`;

const dataDir = await mkdtemp(join(tmpdir(), 'meterhouse-codecs-'));
const config = loadConfig({ DATA_DIR: dataDir, LOG_LEVEL: 'silent', ENGINE_FSYNC: 'false', ROLLUP_RECONCILE_CRON: '0 0 1 1 *' });
const runtime = await startRuntime(config, createLogger(config.LOG_LEVEL));
const db = runtime.deps.db;
const t = (name: string) => `${db.database}.${name}`;
const select = async <T>(query: string): Promise<T[]> => (await (await db.client.query({ query, format: 'JSONEachRow' })).json()) as T[];
const ms = async (run: () => Promise<unknown>): Promise<number> => {
  const t0 = performance.now();
  await run();
  return performance.now() - t0;
};
/** The median of RUNS timings of `run`, in ms. */
const medianMs = async (run: () => Promise<unknown>): Promise<number> => {
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) times.push(await ms(run));
  return +percentile(
    times.sort((a, b) => a - b),
    50,
  ).toFixed(1);
};

try {
  for (const table of Object.values(VARIANTS)) await execute(db, 'bench.copy', `CREATE TABLE ${t(table)} AS ${t(TABLES.usageEvents)}`);
  const removed = Object.keys(RAW_COLUMN_CODECS).map((c) => `MODIFY COLUMN ${c} REMOVE CODEC`);
  await execute(db, 'bench.codecs', `ALTER TABLE ${t(VARIANTS.default)} ${removed.join(', ')}`);

  const ctx: NormaliseContext = { tenantId: 'bench', receivedAtMs: END, maxFutureSkewMs: 86_400_000, format: 'usage' };
  const insertMs: Record<Variant, number> = { default: 0, migration24: 0 };
  let stored = 0;
  for (const batch of eventBatches({ events: EVENTS, customers: 5_000, days: 60, duplicateRate: 0, endMs: END }, BATCH)) {
    const rows = parseBodies([Buffer.from(JSON.stringify(batch))], { ...ctx, receivedAtMs: Date.now() });
    for (const [variant, table] of Object.entries(VARIANTS) as [Variant, string][])
      insertMs[variant] += await ms(() => insertRows(db, 'bench.insert', table, rows));
    stored += rows.length;
  }
  const mergeMs: Record<Variant, number> = { default: 0, migration24: 0 };
  for (const [variant, table] of Object.entries(VARIANTS) as [Variant, string][])
    mergeMs[variant] = await ms(() => execute(db, 'bench.merge', `OPTIMIZE TABLE ${t(table)} FINAL`));

  const perEvent = (bytes: string | number) => +(Number(bytes) / stored).toFixed(2);
  const onDisk = await select<{ table: string; bytes: string; parts: string }>(
    `SELECT table, toString(sum(bytes_on_disk)) AS bytes, toString(count()) AS parts FROM system.parts
     WHERE database = '${db.database}' AND table IN (${VARIANT_TABLES}) AND active GROUP BY table`,
  );
  const columns = await select<{ table: string; name: string; bytes: string }>(
    `SELECT table, name, toString(data_compressed_bytes) AS bytes FROM system.columns
     WHERE database = '${db.database}' AND table IN (${VARIANT_TABLES}) AND data_compressed_bytes > 0`,
  );
  const bytesOf = (variant: Variant, name: string) => perEvent(columns.find((c) => c.table === VARIANTS[variant] && c.name === name)?.bytes ?? 0);

  // Reading a column whole (NOT ignore() makes the engine read and decompress it), one thread, median of RUNS.
  const readMs = (table: string, column: string) =>
    medianMs(() => execute(db, 'bench.read', `SELECT count() FROM ${t(table)} WHERE NOT ignore(${column}) SETTINGS max_threads = 1`));
  const changed = ['event_id', ...Object.keys(RAW_COLUMN_CODECS)].filter((c) => bytesOf('default', c) > 0);
  const perColumn = [];
  for (const column of changed) {
    perColumn.push({
      column,
      codec: RAW_COLUMN_CODECS[column]?.replace(/^.* CODEC/, 'CODEC') ?? 'default (LZ4)',
      bytesPerEventDefault: bytesOf('default', column),
      bytesPerEventMigration24: bytesOf('migration24', column),
      readMsDefault: await readMs(VARIANTS.default, column),
      readMsMigration24: await readMs(VARIANTS.migration24, column),
    });
  }

  // The writer's identity lookup of 10,000 stored ids (the same ids in both tables).
  await execute(
    db,
    'bench.ids',
    `CREATE TABLE ${t('bench_codecs_ids')} ENGINE = Memory AS SELECT event_id FROM ${t(VARIANTS.default)} ORDER BY cityHash64(event_id) LIMIT 10000`,
  );
  const lookupMs: Record<Variant, number> = { default: 0, migration24: 0 };
  for (const [variant, table] of Object.entries(VARIANTS) as [Variant, string][])
    lookupMs[variant] = await medianMs(() =>
      execute(db, 'bench.lookup', `SELECT event_id FROM ${t(table)} WHERE tenant_id = 'bench' AND event_id IN (SELECT event_id FROM ${t('bench_codecs_ids')})`),
    );

  const totals = (Object.entries(VARIANTS) as [Variant, string][]).map(([variant, table]) => {
    const row = onDisk.find((r) => r.table === table)!;
    return {
      variant,
      bytesPerEventOnDisk: perEvent(row.bytes),
      parts: Number(row.parts),
      insertSecondsPer1M: +((insertMs[variant] / stored) * 1000).toFixed(2),
      mergeSeconds: +(mergeMs[variant] / 1000).toFixed(2),
      lookupMs10kIds: lookupMs[variant],
    };
  });
  console.log(`${stored.toLocaleString()} events (ids ${process.env.BENCH_RANDOM_IDS === '1' ? 'in random order' : 'increasing'}), merged`);
  console.table(totals);
  console.table(perColumn);
  await writeResults('codecs', { events: stored, randomIds: process.env.BENCH_RANDOM_IDS === '1', totals, perColumn });
} finally {
  await runtime.close();
  await rm(dataDir, { recursive: true, force: true });
}
