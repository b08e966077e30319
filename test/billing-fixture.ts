import { DateTime } from 'luxon';
import { expect } from 'vitest';
import type { TestTenant } from './harness.js';
import { testClock } from './clock.js';
import type { OracleEvent } from './oracle.js';
import { expectedExports, type LoggedOp, type OracleCycle, type OracleLine, type OracleMeter } from './billing-oracle.js';

/** A tenant set up for billing tests: customers in several zones and cycles, billable meters, and a log of what was sent when. */
export const GRACE_MS = 3_600_000;
const DAY = 86_400_000;

export const CUSTOMERS: Record<string, OracleCycle | undefined> = {
  'c-ny': { timezone: 'America/New_York', interval: 'month', anchorDay: 1 },
  'c-kolkata': { timezone: 'Asia/Kolkata', interval: 'week', anchorDay: 3 },
  'c-mid': { timezone: 'UTC', interval: 'month', anchorDay: 15 },
  'c-berlin': { timezone: 'Europe/Berlin', interval: 'day', anchorDay: 1 },
  'c-default': undefined, // no record: the tenant default, UTC calendar months
};
const DEFAULT_CYCLE: OracleCycle = { timezone: 'UTC', interval: 'month', anchorDay: 1 };
export const cycleOf = (customerId: string) => CUSTOMERS[customerId] ?? DEFAULT_CYCLE;

export const METERS: OracleMeter[] = [
  { key: 'calls', metricName: 'api.calls', aggregation: 'SUM' },
  { key: 'calls-count', metricName: 'api.calls', aggregation: 'COUNT' },
  { key: 'calls-max-eu-us', metricName: 'api.calls', aggregation: 'MAX', filter: { region: ['eu', 'us'] } },
  { key: 'calls-p90', metricName: 'api.calls', aggregation: 'P90' },
  { key: 'calls-avg', metricName: 'api.calls', aggregation: 'AVG' },
  { key: 'calls-latest', metricName: 'api.calls', aggregation: 'LATEST' },
  { key: 'regions', metricName: 'api.calls', aggregation: 'UNIQUE_COUNT', uniqueDimension: 'region' },
  { key: 'gpu', metricName: 'gpu.seconds', aggregation: 'SUM' },
];

export function rng(seed: number) {
  return () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
}

const pick = <T>(r: () => number, xs: readonly T[]) => xs[Math.floor(r() * xs.length)]!;

/** Events over the last ~100 days (Berlin: 12 days), plus events on both sides of local period starts. */
export function generateEvents(prefix: string, count: number, seed: number, nowMs: number): OracleEvent[] {
  const r = rng(seed);
  const events: OracleEvent[] = [];
  for (let i = 0; i < count; i++) {
    const customerId = pick(r, Object.keys(CUSTOMERS));
    const span = customerId === 'c-berlin' ? 12 * DAY : 100 * DAY;
    const dimensions: Record<string, string> = r() < 0.85 ? { region: pick(r, ['eu', 'us', 'ap']) } : {};
    events.push({
      eventId: `${prefix}-${i}`,
      customerId,
      metricName: r() < 0.8 ? 'api.calls' : 'gpu.seconds',
      timestamp: nowMs - 2 * DAY - Math.floor(r() * span),
      quantity: `${Math.floor(r() * 50)}.${String(Math.floor(r() * 1000)).padStart(3, '0')}`,
      dimensions,
    });
  }
  for (const customerId of ['c-ny', 'c-kolkata', 'c-mid']) {
    const cycle = cycleOf(customerId);
    const local = DateTime.fromMillis(nowMs - 40 * DAY, { zone: cycle.timezone })
      .startOf('month')
      .plus({ days: cycle.interval === 'month' ? cycle.anchorDay - 1 : 0 });
    for (const [j, ms] of [local.toMillis(), local.toMillis() - 1].entries()) {
      events.push({
        eventId: `${prefix}-edge-${customerId}-${j}`,
        customerId,
        metricName: 'api.calls',
        timestamp: ms,
        quantity: `${j + 1}.5`,
        dimensions: { region: 'eu' },
      });
    }
  }
  return events;
}

export const apiBody = (events: OracleEvent[]) =>
  events.map(({ eventId, customerId, metricName, timestamp, quantity, dimensions }) => ({ eventId, customerId, metricName, timestamp, quantity, dimensions }));

/** Wait for the clock to pass the last logged write, so that a cutoff taken now comes after it. */
export async function clockPast(log: LoggedOp[]): Promise<void> {
  const last = Math.max(0, ...log.map((o) => o.doneAt));
  while (Date.now() <= last) await new Promise((resolve) => setTimeout(resolve, 1));
}

export async function setUpTenant(t: TestTenant): Promise<void> {
  for (const [customerId, cycle] of Object.entries(CUSTOMERS)) {
    if (!cycle) continue;
    const res = await t.json('PUT', `/v1/customers/${customerId}`, {
      body: {
        name: customerId,
        timezone: cycle.timezone,
        billingCycle: { interval: cycle.interval, ...(cycle.interval === 'day' ? {} : { anchorDay: cycle.anchorDay }) },
      },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
  }
  for (const m of [...METERS, { key: 'internal', metricName: 'api.calls', aggregation: 'SUM', billable: false }]) {
    const res = await t.json('POST', '/v1/meters', { body: m });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
  }
}

/** Send events through the API and log them (the first payload of an id is what the oracle keeps). */
export async function send(t: TestTenant, log: LoggedOp[], events: OracleEvent[]): Promise<void> {
  for (let i = 0; i < events.length; i += 500) {
    const res = await t.json('POST', '/v1/events', { body: apiBody(events.slice(i, i + 500)) });
    expect(res.status, JSON.stringify(res.body).slice(0, 500)).toBe(200);
    const doneAt = Date.now();
    for (const event of events.slice(i, i + 500)) log.push({ doneAt, event });
  }
}

const sortLines = <T extends { customerId: string; meterKey: string; periodStart: string; kind: string }>(lines: T[]) =>
  [...lines].sort((a, b) =>
    JSON.stringify([a.customerId, a.meterKey, a.periodStart, a.kind]) < JSON.stringify([b.customerId, b.meterKey, b.periodStart, b.kind]) ? -1 : 1,
  );

/** Every export in the feed equals the oracle's, line for line. */
export async function expectExportsMatchOracle(
  t: TestTenant,
  log: LoggedOp[],
): Promise<{ id: string; sequence: number; checksum: string; lines: OracleLine[] }[]> {
  const feed = (await t.json('GET', '/v1/billing/exports')).body.data as {
    id: string;
    sequence: number;
    cutoff: string;
    checksum: string;
    lineCount: number;
  }[];
  expect(feed.map((e) => e.sequence)).toEqual(feed.map((_, i) => i + 1));
  const expected = expectedExports(
    log,
    METERS,
    cycleOf,
    GRACE_MS,
    feed.map((e) => Date.parse(e.cutoff)),
    testClock.offsetMs,
  );
  const out = [];
  for (const [k, manifest] of feed.entries()) {
    const got = await t.json('GET', `/v1/billing/exports/${manifest.id}`);
    expect(got.status).toBe(200);
    expect(got.body.lineCount).toBe(got.body.lines.length);
    expect(sortLines(got.body.lines), `export ${manifest.sequence}`).toEqual(sortLines(expected[k]!));
    out.push({ ...manifest, lines: got.body.lines });
  }
  return out;
}
