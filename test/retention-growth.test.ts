import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createLogger } from '../api/logger.js';
import { startRuntime, type Runtime } from '../api/runtime.js';
import { reconcileRollups } from '../jobs/reconcile-rollups.js';
import { readWatermark } from '../sql/queries/reconcile.js';
import { readFilledFrom } from '../sql/queries/tier-filled.js';
import { grownRetention } from '../sql/retention.js';
import { now, testClock } from './clock.js';
import { tenantOn } from './alerts-fixture.js';
import { cli, cliJsonWith } from './cli-process.js';
import { testConfig, type TestTenant } from './harness.js';

/**
 * Raising a rollup tier's retention: the tier holds none of the windows the longer retention adds
 * (its view wrote none, its TTL deleted them), so until a full reconciliation writes them, reads must
 * not take the tier there. The runtime is this file's own, restarted on one data directory with
 * another ROLLUP_MINUTE_RETENTION_DAYS, as an operator does.
 */
const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;
const clockOffsetMs = testClock.offsetMs;
let dataDir: string;
let runtime: Runtime | undefined;
const current = () => runtime!;

async function open(minuteDays: number): Promise<Runtime> {
  await runtime?.close();
  const config = testConfig(dataDir, {
    ROLLUP_RECONCILE_SETTLE_SECONDS: '0',
    ROLLUP_MINUTE_RETENTION_DAYS: String(minuteDays),
  });
  runtime = await startRuntime(config, createLogger(config.LOG_LEVEL), { clock: testClock });
  return runtime;
}

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'meterhouse-retention-'));
  await open(1);
});

afterAll(async () => {
  await runtime?.close();
  await rm(dataDir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
});

/** One customer's minute values over [from, from + 1 h), and the table the API says it read. */
async function minutes(t: TestTenant, fromMs: number) {
  const res = await t.json('GET', `/v1/meters/grown/usage?from=${fromMs}&to=${fromMs + HOUR_MS}&granularity=minute`);
  expect(res.status).toBe(200);
  const values = (res.body.data as { windowStart: string; value: string }[]).filter((c) => c.value !== '0').map((c) => [Date.parse(c.windowStart), c.value]);
  return { source: res.body.meta.source as string, values };
}

/** The operators' gauge of tiers being filled, as /metrics shows it. */
async function filling(): Promise<number> {
  const text = await (await current().app.request('/metrics')).text();
  return Number(/^meterhouse_rollup_tiers_filling (\d+)$/m.exec(text)?.[1]);
}

const reconcileJob = () => current().jobs.find((j) => j.name === 'rollups.reconcile')!;

it('reads a tier whose retention grew only where it holds every window, until a full pass fills it', async () => {
  const t = await tenantOn(current, 'grown');
  expect((await t.json('POST', '/v1/meters', { body: { key: 'grown', metricName: 'grown', aggregation: 'SUM' } })).status).toBe(201);
  // An hour three to four days old: past a one-day minute retention, inside fourteen days.
  const d = now() - 3 * DAY_MS;
  const H = d - (d % DAY_MS) + 13 * HOUR_MS;
  const send = async (events: { eventId: string; timestamp: number; quantity: string }[]) =>
    expect((await t.json('POST', '/v1/events', { body: events.map((e) => ({ ...e, customerId: 'c', metricName: 'grown' })) })).status).toBe(200);
  await send([
    { eventId: 'a', timestamp: H + 60_000, quantity: '2' },
    { eventId: 'b', timestamp: H + 30 * 60_000, quantity: '3.5' },
  ]);
  const old = [
    [H + 60_000, '2'],
    [H + 30 * 60_000, '3.5'],
  ];
  // Under the one-day retention the minute tier keeps no such window, so that read is from raw events.
  expect(await minutes(t, H)).toEqual({ source: 'usage_events', values: old });
  // A run late enough that its watermark passes both events: no incremental run looks at their hour again.
  await reconcileRollups(current().deps.db, { settleMs: 0, clockOffsetMs, nowMs: Date.now() + 3 * 60_000, retention: { minute: 1, hour: 400, day: 0 } });
  expect(await grownRetention(current().deps.db, { minute: 14, hour: 400, day: 0 }, undefined, clockOffsetMs)).toEqual([{ tier: 'minute', fromDays: 1 }]);
  expect(await grownRetention(current().deps.db, { minute: 1, hour: 500, day: 0 }, undefined, clockOffsetMs)).toEqual([{ tier: 'hour', fromDays: 400 }]);

  // The operator raises the minute retention to 14 days and restarts.
  const before = now();
  await open(14);
  const { db, tiers } = current().deps;
  const [mark] = await readFilledFrom(db);
  expect(mark).toMatchObject({ tier: 'minute' });
  expect(mark!.fromMs).toBeGreaterThanOrEqual(before - DAY_MS);
  expect(mark!.fromMs).toBeLessThanOrEqual(now() - DAY_MS);
  expect(tiers.pending).toBe(true);
  expect(await filling()).toBe(1);
  expect(await readWatermark(db)).toBe(0);
  // The tier holds nothing in that hour: the read stays on raw events, exact.
  expect(await minutes(t, H)).toEqual({ source: 'usage_events', values: old });
  // An hour the tier kept all along is read from it.
  const r = now() - 3 * HOUR_MS;
  const R = r - (r % HOUR_MS);
  await send([{ eventId: 'c', timestamp: R + 5 * 60_000, quantity: '7' }]);
  expect(await minutes(t, R)).toEqual({ source: 'usage_per_minute', values: [[R + 5 * 60_000, '7']] });

  // The next run is a full pass: it writes the hour's minute rows and clears the mark.
  await reconcileJob().run();
  expect(await readFilledFrom(db)).toEqual([]);
  expect(tiers.pending).toBe(false);
  expect(await filling()).toBe(0);
  expect(await minutes(t, H)).toEqual({ source: 'usage_per_minute', values: old });

  // Started again with the same retention: nothing grew, nothing is marked.
  await open(14);
  expect(current().deps.tiers.pending).toBe(false);
  expect(await minutes(t, H)).toEqual({ source: 'usage_per_minute', values: old });
});

it('a full pass that leaves windows still receiving rows for later keeps the marks and the next run full', async () => {
  await open(1);
  const t = await tenantOn(current, 'deferred');
  expect((await t.json('POST', '/v1/meters', { body: { key: 'grown', metricName: 'grown', aggregation: 'SUM' } })).status).toBe(201);
  await open(14);
  const { db } = current().deps;
  expect((await readFilledFrom(db)).map((m) => m.tier)).toEqual(['minute']);
  // A row stored just now into an hour five days old: with a settle time it is still receiving rows.
  const d = now() - 5 * DAY_MS;
  const H = d - (d % DAY_MS) + 7 * HOUR_MS;
  expect(
    (await t.json('POST', '/v1/events', { body: [{ eventId: 'x', customerId: 'c', metricName: 'grown', timestamp: H + 60_000, quantity: '1' }] })).status,
  ).toBe(200);
  const retention = { minute: 14, hour: 400, day: 0 };
  const early = await reconcileRollups(db, { settleMs: 60_000, clockOffsetMs, retention });
  expect(early.deferred).toBeGreaterThan(0);
  expect(early.tiersFilled).toEqual([]);
  expect((await readFilledFrom(db)).map((m) => m.tier)).toEqual(['minute']);
  expect(await readWatermark(db)).toBe(0);
  // Once it has settled, the full pass compares it and the mark goes.
  const later = await reconcileRollups(db, { settleMs: 60_000, clockOffsetMs, retention, nowMs: Date.now() + 61_000 });
  expect(later.deferred).toBe(0);
  expect(later.tiersFilled).toEqual(['minute']);
  expect(await readFilledFrom(db)).toEqual([]);
  await current().deps.tiers.refresh();
  expect(current().deps.tiers.pending).toBe(false);
  expect(await minutes(t, H)).toEqual({ source: 'usage_per_minute', values: [[H + 60_000, '1']] });
});

it('the CLI shows a tier being filled, and its reconciliation (another process) fills it', async () => {
  await open(1);
  const t = await tenantOn(current, 'by-cli');
  expect((await t.json('POST', '/v1/meters', { body: { key: 'grown', metricName: 'grown', aggregation: 'SUM' } })).status).toBe(201);
  const d = now() - 4 * DAY_MS;
  const H = d - (d % DAY_MS) + 20 * HOUR_MS;
  expect(
    (await t.json('POST', '/v1/events', { body: [{ eventId: 'y', customerId: 'c', metricName: 'grown', timestamp: H + 60_000, quantity: '4' }] })).status,
  ).toBe(200);
  await reconcileRollups(current().deps.db, { settleMs: 0, clockOffsetMs, nowMs: Date.now() + 3 * 60_000, retention: { minute: 1, hour: 400, day: 0 } });
  await open(14);
  const [mark] = await readFilledFrom(current().deps.db);
  // The embedded engine is one process's: the server stops while the operator's commands run.
  await runtime!.close();
  runtime = undefined;

  const before = await cliJson('status');
  expect(before.rollups).toEqual({ reconciledUntil: null, tiersFilling: [{ tier: 'minute', completeFrom: new Date(mark!.fromMs).toISOString() }] });
  const text = await cli(dataDir, 'status');
  expect(text.stdout).toContain(`minute rollups being filled: read only from ${new Date(mark!.fromMs).toISOString()}`);
  // The watermark is 0: the CLI's run is the full pass; it fills the tier and clears the mark.
  expect(await cliJson('reconcile')).toMatchObject({ sinceMs: 0, tiersFilled: ['minute'] });
  const after = await cliJson('status');
  expect(after.rollups.tiersFilling).toEqual([]);
  expect(after.rollups.reconciledUntil).not.toBeNull();

  await open(14);
  expect(current().deps.tiers.pending).toBe(false);
  expect(await minutes(t, H)).toEqual({ source: 'usage_per_minute', values: [[H + 60_000, '4']] });
}, 120_000);

/** `meterhouse --json <args>` on this file's data directory, parsed; rows count as settled at once, as in this file's runtime. */
const cliJson = (...args: string[]): Promise<any> => cliJsonWith({ ROLLUP_RECONCILE_SETTLE_SECONDS: '0' }, dataDir, ...args);
