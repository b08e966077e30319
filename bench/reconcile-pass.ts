// npm run bench:reconcile: the rollup reconciler's full pass (its first run after a backfill, or a
// run from watermark 0) on a fresh embedded engine holding BENCH_RECONCILE_EVENTS (default 1,000,000)
// of the bench's events over 60 days, 1% of them stored a second time below the writer (as Kafka
// redeliveries are), so hours are stale. Times the run, then each of its comparisons on the now exact
// rollups: hour tier against raw events, minute tier against the hour tier, day tier against it.
// Then a run in steady state: LIVE_EVENTS new events of the last hour, each comparison and the run.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, rollupRetention } from '../api/config.js';
import { createLogger } from '../api/logger.js';
import { startRuntime } from '../api/runtime.js';
import { TABLES } from '../sql/names.js';
import { insertRows } from '../sql/query.js';
import { EVENT_INSERT_SETTINGS } from '../sql/datasets/usage-events.js';
import { reconcileRollups } from '../jobs/reconcile-rollups.js';
import { TIER_CHECKS, driftedWindows, staleWindows, touchedWindowCount, writeWatermark, type ReconcileSpan } from '../sql/queries/reconcile.js';
import type { NormaliseContext } from '../ingest/normalise.js';
import { eventBatches } from './events.js';
import { parseBodies } from './stages.js';
import { envNumber, writeResults } from './common.js';

const EVENTS = envNumber('BENCH_RECONCILE_EVENTS', 1_000_000);
const BATCH = 10_000;
const LIVE_EVENTS = 10_000;
const END = Date.UTC(2026, 10, 1);

const seconds = async <T>(run: () => Promise<T>): Promise<[T, number]> => {
  const t0 = performance.now();
  const result = await run();
  return [result, Math.round(performance.now() - t0) / 1000];
};

const dataDir = await mkdtemp(join(tmpdir(), 'meterhouse-reconcile-'));
const config = loadConfig({ DATA_DIR: dataDir, LOG_LEVEL: 'silent', ENGINE_FSYNC: 'false', ROLLUP_RECONCILE_CRON: '0 0 1 1 *' });
const runtime = await startRuntime(config, createLogger(config.LOG_LEVEL));
const db = runtime.connection.jobDb();
const retention = rollupRetention(config);
try {
  const ctx: NormaliseContext = { tenantId: 'bench', receivedAtMs: END, maxFutureSkewMs: 86_400_000, format: 'usage' };
  let stored = 0;
  const [, loadSeconds] = await seconds(async () => {
    for (const batch of eventBatches({ events: EVENTS, customers: 5_000, days: 60, duplicateRate: 0.01, endMs: END }, BATCH)) {
      const rows = parseBodies([Buffer.from(JSON.stringify(batch))], ctx);
      await insertRows(runtime.deps.db, 'bench.insert', TABLES.usageEvents, rows, {}, EVENT_INSERT_SETTINGS);
      stored += rows.length;
    }
  });
  console.log(`stored ${stored} rows (${EVENTS} events, redeliveries included) in ${loadSeconds} s`);

  const reconcile = () => reconcileRollups(db, { settleMs: 0, retention });
  const [run, runSeconds] = await seconds(reconcile);
  console.log(`full pass: ${runSeconds} s`, run);

  // The same pass again on the exact rollups: what each comparison costs when nothing differs.
  await writeWatermark(db, 0);
  const span: ReconcileSpan = { sinceMs: 0 };
  const [, touchedSeconds] = await seconds(() => touchedWindowCount(db, span));
  const [stale, hourSeconds] = await seconds(() => staleWindows(db, span));
  const checks: Record<string, number> = {};
  for (const check of TIER_CHECKS) {
    const [drifted, s] = await seconds(() => driftedWindows(db, span, check, retention));
    if (drifted.length > 0) throw new Error(`${check.name} tier: ${drifted.length} windows differ after a full pass`);
    checks[check.name] = s;
  }
  if (stale.length > 0) throw new Error(`${stale.length} hours differ from raw events after a full pass`);
  const [again, againSeconds] = await seconds(reconcile);

  // A run in steady state: 10,000 new events of the last hour since the previous run (the watermark
  // set to just before them: the run above left it 2 minutes before its start, in the backfill's rows).
  const liveSince = Date.now();
  await writeWatermark(db, liveSince);
  const live = eventBatches({ events: LIVE_EVENTS, customers: 5_000, days: 1 / 24, duplicateRate: 0, endMs: Date.now() }, BATCH, undefined, 'live');
  for (const batch of live)
    await insertRows(
      runtime.deps.db,
      'bench.insert',
      TABLES.usageEvents,
      parseBodies([Buffer.from(JSON.stringify(batch))], { ...ctx, receivedAtMs: Date.now() }),
      {},
      EVENT_INSERT_SETTINGS,
    );
  const liveSpan: ReconcileSpan = { sinceMs: liveSince };
  const [, liveHourSeconds] = await seconds(() => staleWindows(db, liveSpan));
  const liveChecks: Record<string, number> = {};
  for (const check of TIER_CHECKS) liveChecks[check.name] = (await seconds(() => driftedWindows(db, liveSpan, check, retention)))[1];
  const [liveRun, liveRunSeconds] = await seconds(reconcile);
  const results = {
    events: EVENTS,
    storedRows: stored,
    fullPass: { seconds: runSeconds, ...run },
    exactPass: {
      seconds: againSeconds,
      touchedCountSeconds: touchedSeconds,
      hourVsRawSeconds: hourSeconds,
      minuteVsHourSeconds: checks.minute,
      dayVsHourSeconds: checks.day,
    },
    exactPassRewrote: again.rewritten + again.minuteHoursRewritten + again.daysRewritten,
    liveRun: {
      events: LIVE_EVENTS,
      seconds: liveRunSeconds,
      hourVsRawSeconds: liveHourSeconds,
      minuteVsHourSeconds: liveChecks.minute,
      dayVsHourSeconds: liveChecks.day,
      ...liveRun,
    },
  };
  console.table([
    { step: 'full pass (rewrites the stale hours)', seconds: runSeconds },
    { step: 'exact pass: windows touched', seconds: touchedSeconds },
    { step: 'exact pass: hour tier vs raw events', seconds: hourSeconds },
    { step: 'exact pass: minute tier vs hour tier', seconds: checks.minute },
    { step: 'exact pass: day tier vs hour tier', seconds: checks.day },
    { step: 'exact pass: the whole run', seconds: againSeconds },
    { step: `after ${LIVE_EVENTS} events of the last hour: hour tier vs raw events`, seconds: liveHourSeconds },
    { step: `after ${LIVE_EVENTS} events of the last hour: minute tier vs hour tier`, seconds: liveChecks.minute },
    { step: `after ${LIVE_EVENTS} events of the last hour: day tier vs hour tier`, seconds: liveChecks.day },
    { step: `after ${LIVE_EVENTS} events of the last hour: the whole run`, seconds: liveRunSeconds },
  ]);
  await writeResults('reconcile-pass', results);
} finally {
  await runtime.close();
  await rm(dataDir, { recursive: true, force: true });
}
