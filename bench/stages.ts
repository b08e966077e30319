// npm run bench:stages: where the time of direct ingest goes, stage by stage, in one process on the
// embedded engine, for BENCH_STAGE_EVENTS (default 1,000,000) usage-shaped events over 60 days.
// Stages: parse + validate (JSON bytes -> EventRow), identity lookup, insert into usage_events
// (with its views) through the client adapter and through the raw insert, the same insert into a
// copy without views (what the views cost), and the engine's INSERT ... SELECT of the same rows
// through the same schema and views: the ceiling the product's own path is measured against.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../api/config.js';
import { createLogger } from '../api/logger.js';
import { startRuntime } from '../api/runtime.js';
import { parseJsonBody } from '../ingest/json-body.js';
import { eventsInBody, normaliseEvent, type EventRow } from '../ingest/normalise.js';
import { outcomesOf } from '../ingest/writer.js';
import { TABLES } from '../sql/names.js';
import { execute, insertRows, type Db } from '../sql/query.js';
import { eventBatches } from './events.js';

export interface StageFigure {
  stage: string;
  rowsPerSecond: number;
  seconds: number;
}

const BATCH = Number(process.env.BENCH_STAGE_BATCH ?? 10_000);
const END = Date.UTC(2026, 10, 1);

async function timed(stage: string, rows: number, run: () => Promise<unknown> | unknown): Promise<StageFigure> {
  const t0 = performance.now();
  await run();
  const seconds = (performance.now() - t0) / 1000;
  return { stage, rowsPerSecond: Math.round(rows / seconds), seconds: +seconds.toFixed(2) };
}

/** Insert `rows` in BATCH-row blocks through `insert`. */
async function inBatches(rows: EventRow[], insert: (batch: EventRow[]) => Promise<void>): Promise<void> {
  for (let i = 0; i < rows.length; i += BATCH) await insert(rows.slice(i, i + BATCH));
}

/** Each stage of the direct ingest path over `events` events, on a fresh engine. */
export async function measureStages(events: number): Promise<StageFigure[]> {
  const dataDir = await mkdtemp(join(tmpdir(), 'meterhouse-stages-'));
  const config = loadConfig({ DATA_DIR: dataDir, LOG_LEVEL: 'silent', ENGINE_FSYNC: 'false', METERHOUSE_API_KEY: 'bench-stages-key-0123456789abcdef' });
  const runtime = await startRuntime(config, createLogger(config.LOG_LEVEL));
  const db: Db = runtime.deps.db;
  const figures: StageFigure[] = [];
  try {
    const bodies = [...eventBatches({ events, customers: 5_000, days: 60, duplicateRate: 0, endMs: END }, BATCH)].map((b) => Buffer.from(JSON.stringify(b)));
    const rows: EventRow[] = [];
    const ctx = { tenantId: 'bench', receivedAtMs: END, maxFutureSkewMs: 86_400_000, format: 'usage' as const };
    figures.push(
      await timed('parse + validate (one core)', events, () => {
        for (const body of bodies) {
          const parsed = parseJsonBody(body);
          if (!parsed.ok) throw new Error(parsed.message);
          const list = eventsInBody(parsed.value, 'usage');
          if ('error' in list) throw new Error(list.error);
          list.events.forEach((e, i) => {
            const v = normaliseEvent(e, i, ctx);
            if (!v.row) throw new Error(JSON.stringify(v.errors));
            rows.push(v.row);
          });
        }
      }),
    );
    const t = (name: string) => `${db.database}.${name}`;
    await execute(db, 'bench.copy', `CREATE TABLE ${t('bench_no_views')} AS ${t(TABLES.usageEvents)}`);
    await execute(db, 'bench.copy', `CREATE TABLE ${t('bench_source')} AS ${t(TABLES.usageEvents)} ENGINE = MergeTree ORDER BY tuple()`);
    const half = rows.slice(0, Math.floor(rows.length / 2));
    const rest = rows.slice(half.length);
    const raw = (table: string) => (batch: EventRow[]) => insertRows(db, 'bench.insert', table, batch);
    const viaAdapter = (table: string) => (batch: EventRow[]) => insertRows({ ...db, rawInsert: undefined }, 'bench.insert', table, batch);
    figures.push(await timed('insert, adapter, no views', half.length, () => inBatches(half, viaAdapter('bench_no_views'))));
    figures.push(await timed('insert, raw, no views', rest.length, () => inBatches(rest, raw('bench_no_views'))));
    figures.push(await timed('insert, adapter, with views', half.length, () => inBatches(half, viaAdapter(TABLES.usageEvents))));
    figures.push(await timed('insert, raw, with views', rest.length, () => inBatches(rest, raw(TABLES.usageEvents))));
    const ids = rows.map((r) => ({ ...r, event_id: r.event_id }));
    figures.push(await timed('identity lookup (10k ids per batch)', ids.length, () => inBatches(ids, async (b) => void (await outcomesOf(db, b, 'bench')))));
    // The ceiling: the same rows copied by the engine, through the same schema and views.
    await execute(db, 'bench.source', `INSERT INTO ${t('bench_source')} SELECT * FROM ${t(TABLES.usageEvents)}`);
    await execute(db, 'bench.truncate', `TRUNCATE TABLE ${t(TABLES.usageEvents)}`);
    for (const tier of [TABLES.usagePerMinute, TABLES.usagePerHour, TABLES.usagePerDay, TABLES.usageEventLog]) await execute(db, 'bench.truncate', `TRUNCATE TABLE ${t(tier)}`);
    figures.push(await timed('ceiling: INSERT ... SELECT, with views', rows.length, () => execute(db, 'bench.ceiling', `INSERT INTO ${t(TABLES.usageEvents)} SELECT * FROM ${t('bench_source')}`)));
  } finally {
    await runtime.close();
    await rm(dataDir, { recursive: true, force: true });
  }
  return figures;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const events = Number(process.env.BENCH_STAGE_EVENTS ?? 1_000_000);
  console.log(`stages of direct ingest, ${events.toLocaleString()} events`);
  console.table(await measureStages(events));
}
