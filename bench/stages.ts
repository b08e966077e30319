// npm run bench:stages: where the time of direct ingest goes, stage by stage, in one process on the
// embedded engine, for BENCH_STAGE_EVENTS (default 1,000,000) usage-shaped events over 60 days.
// Stages: parse + validate (JSON bytes -> EventRow), identity lookup, insert into usage_events
// (with its views) through the client adapter and through the raw insert, the same insert into a
// copy without views (what the views cost), and the engine's INSERT ... SELECT of the same rows
// through the same schema and views: the ceiling the product's own path is measured against. Each ceiling
// is the median of BENCH_CEILING_RUNS (3) runs, each into emptied tables once the engine's merges have finished.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../api/config.js';
import { createLogger } from '../api/logger.js';
import { startRuntime } from '../api/runtime.js';
import { parseJsonBody } from '../ingest/json-body.js';
import { eventsInBody, normaliseEvent, type EventRow, type NormaliseContext } from '../ingest/normalise.js';
import { insertEvents, outcomesOf } from '../ingest/writer.js';
import { TABLES } from '../sql/names.js';
import { execute, insertRows, withSettings, type Db } from '../sql/query.js';
import { EVENT_INSERT_SETTINGS } from '../sql/datasets/usage-events.js';
import { EVENT_TABLES } from '../sql/datasets/merge-selector.js';
import { usageEventsBacklog } from '../sql/queries/observability.js';
import { eventBatches } from './events.js';
import { envNumber } from './common.js';

export interface StageFigure {
  stage: string;
  rowsPerSecond: number;
  seconds: number;
  /** A ceiling's runs, slowest to fastest (rows/s): the figure above is their median. */
  runs?: string;
}

const BATCH = envNumber('BENCH_STAGE_BATCH', 10_000);
/** Each ceiling is timed this many times, into emptied tables, and reported by its median. */
const CEILING_RUNS = envNumber('BENCH_CEILING_RUNS', 3);
const CHUNK = 250_000;
const END = Date.UTC(2026, 10, 1);

/** Insert `rows` in BATCH-row blocks through `insert`. */
async function inBatches(rows: EventRow[], insert: (batch: EventRow[]) => Promise<void>): Promise<void> {
  for (let i = 0; i < rows.length; i += BATCH) await insert(rows.slice(i, i + BATCH));
}

/** Parse and validate request bodies into rows, as POST /v1/events does. */
export function parseBodies(bodies: Buffer[], ctx: NormaliseContext): EventRow[] {
  const rows: EventRow[] = [];
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
  return rows;
}

async function truncateEvents(db: Db): Promise<void> {
  for (const table of EVENT_TABLES) await execute(db, 'bench.truncate', `TRUNCATE TABLE ${db.database}.${table}`);
}

/** The copies of usage_events without views the stages write (and the ceiling reads or writes). */
const COPIES = ['bench_no_views', 'bench_adapter_no_views', 'bench_ceiling_no_views'];

/**
 * Wait until the engine runs no merge (nor mutation) on the event tables and the copies (at most 5 minutes). The
 * stages before a ceiling leave merges behind them (hundreds of parts from their small inserts): without the wait
 * they share the two cores with the ceiling's statement, by chance more or less.
 */
async function mergesSettled(db: Db): Promise<void> {
  const deadline = Date.now() + 300_000;
  for (;;) {
    const [backlog] = await usageEventsBacklog(db, { database: db.database, tables: [...EVENT_TABLES, ...COPIES] });
    if ((backlog?.merges ?? 0) + (backlog?.mutations ?? 0) === 0 || Date.now() > deadline) return;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

class Stopwatch {
  readonly seconds = new Map<string, number>();
  /** Ceilings: each run's seconds (the stage's figure is their median). */
  readonly runs = new Map<string, number[]>();

  /** Time `run` CEILING_RUNS times, each after `prepare` and once no merge runs; the stage's seconds are the median. */
  async repeat(stage: string, db: Db, prepare: () => Promise<void>, run: () => Promise<unknown>): Promise<void> {
    const seconds: number[] = [];
    for (let i = 0; i < CEILING_RUNS; i++) {
      await prepare();
      await mergesSettled(db);
      const t0 = performance.now();
      await run();
      seconds.push((performance.now() - t0) / 1000);
    }
    seconds.sort((a, b) => b - a);
    this.runs.set(stage, seconds);
    this.seconds.set(stage, seconds[Math.floor(seconds.length / 2)]!);
  }

  async time<T>(stage: string, run: () => Promise<T> | T): Promise<T> {
    const t0 = performance.now();
    const result = await run();
    this.seconds.set(stage, (this.seconds.get(stage) ?? 0) + (performance.now() - t0) / 1000);
    return result;
  }
}

/**
 * Each stage of the direct ingest path over `events` events, on a fresh engine,
 * CHUNK events at a time (so 10M events never sit in memory at once, and the
 * lookup and inserts run against a table that grows as in production).
 * `adapter`: also time the client adapter's insert (the path before chdb's raw insert).
 * `json`: also time the insert as JSON (the path before CSV); each chunk then goes into emptied tables, as CSV
 * and then as JSON, so the two inserts meet the same data.
 */
export async function measureStages(events: number, adapter = false, json = false): Promise<StageFigure[]> {
  const dataDir = await mkdtemp(join(tmpdir(), 'meterhouse-stages-'));
  const config = loadConfig({ DATA_DIR: dataDir, LOG_LEVEL: 'silent', ENGINE_FSYNC: 'false', METERHOUSE_API_KEY: 'bench-stages-key-0123456789abcdef' });
  const runtime = await startRuntime(config, createLogger(config.LOG_LEVEL));
  const db: Db = runtime.deps.db;
  const t = (name: string) => `${db.database}.${name}`;
  const watch = new Stopwatch();
  let adapterRows = 0;
  try {
    for (const copy of COPIES) await execute(db, 'bench.copy', `CREATE TABLE ${t(copy)} AS ${t(TABLES.usageEvents)}`);
    const ctx: NormaliseContext = { tenantId: 'bench', receivedAtMs: END, maxFutureSkewMs: 86_400_000, format: 'usage' };
    const batches = eventBatches({ events, customers: 5_000, days: 60, duplicateRate: 0, endMs: END }, BATCH);
    for (let done = 0; done < events; done += CHUNK) {
      const bodies: Buffer[] = [];
      for (let n = 0; n < CHUNK / BATCH; n++) {
        const next = batches.next();
        if (next.done) break;
        bodies.push(Buffer.from(JSON.stringify(next.value)));
      }
      const rows = await watch.time(STAGE.parse, () => parseBodies(bodies, ctx));
      await watch.time(STAGE.lookup, () => inBatches(rows, async (b) => void (await outcomesOf(db, b, 'bench'))));
      await watch.time(STAGE.insertNoViews, () => inBatches(rows, (b) => insertRows(db, 'bench.insert', 'bench_no_views', b)));
      if (json) await truncateEvents(db);
      await watch.time(STAGE.insert, () => inBatches(rows, (b) => insertEvents(db, b, 'bench')));
      if (json) {
        // The same rows again as JSON (the writer's insert before CSV), into emptied tables as the CSV insert was.
        await truncateEvents(db);
        await watch.time(STAGE.insertJson, () => inBatches(rows, (b) => insertRows(db, 'bench.insert', TABLES.usageEvents, b, {}, EVENT_INSERT_SETTINGS)));
      }
      if (adapter && done === 0) {
        adapterRows = rows.length;
        await watch.time(STAGE.adapterNoViews, () =>
          inBatches(rows, (b) => insertRows({ ...db, rawInsert: undefined }, 'bench.insert', 'bench_adapter_no_views', b)),
        );
      }
    }
    // The ceiling: the same rows copied by the engine in one statement, through the same schema (and views),
    // into emptied tables, each run once the merges left by the stages (and runs) before it have finished.
    await watch.repeat(
      STAGE.ceilingNoViews,
      db,
      () => execute(db, 'bench.truncate', `TRUNCATE TABLE ${t('bench_ceiling_no_views')}`),
      () => execute(db, 'bench.ceiling', `INSERT INTO ${t('bench_ceiling_no_views')} SELECT * FROM ${t('bench_no_views')}`),
    );
    await watch.repeat(
      STAGE.ceiling,
      db,
      () => truncateEvents(db),
      () => execute(db, 'bench.ceiling', withSettings(`INSERT INTO ${t(TABLES.usageEvents)} SELECT * FROM ${t('bench_no_views')}`, EVENT_INSERT_SETTINGS)),
    );
  } finally {
    await runtime.close();
    await rm(dataDir, { recursive: true, force: true });
  }
  return [...watch.seconds].map(([stage, seconds]) => {
    const rows = stage === STAGE.adapterNoViews ? adapterRows : events;
    const runs = watch.runs.get(stage);
    const figure: StageFigure = { stage, rowsPerSecond: Math.round(rows / seconds), seconds: +seconds.toFixed(2) };
    return runs ? { ...figure, runs: runs.map((s) => Math.round(rows / s).toLocaleString('en-US')).join(' / ') } : figure;
  });
}

export const STAGE = {
  parse: 'parse + validate (JS, one core)',
  lookup: 'identity lookup (10k ids a batch)',
  insertNoViews: 'insert, raw, usage_events without views',
  adapterNoViews: 'insert, client adapter, without views (first chunk)',
  insert: 'insert, raw, usage_events with its 5 views',
  insertJson: 'insert, raw as JSON, with the 5 views',
  ceilingNoViews: 'ceiling: INSERT ... SELECT, without views',
  ceiling: 'ceiling: INSERT ... SELECT, with the 5 views',
} as const;

if (import.meta.url === `file://${process.argv[1]}`) {
  const events = envNumber('BENCH_STAGE_EVENTS', 1_000_000);
  console.log(`stages of direct ingest, ${events.toLocaleString()} events, ${BATCH.toLocaleString()}-row batches`);
  console.table(await measureStages(events, process.env.BENCH_STAGE_ADAPTER === '1', process.env.BENCH_STAGE_JSON === '1'));
}
