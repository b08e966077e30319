import { beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { engine, newTenant, type TestTenant } from './harness.js';
import { aggregate, fromUnits, toUnits, windowStart, type OracleEvent } from './oracle.js';
import { TABLES } from '../sql/names.js';
import { ROLLUP_TIERS } from '../sql/datasets/rollups.js';
import { SUM_TYPE, wideSum } from '../sql/decimals.js';
import { execute, runQuery } from '../sql/query.js';
import { AGGREGATIONS } from '../sql/queries/meters.js';
import { PERCENTILES } from '../sql/queries/meter-usage.js';
import { staleWindows } from '../sql/queries/reconcile.js';
import { reconcileRollups } from '../jobs/reconcile-rollups.js';
import { redeliver } from './redeliver.js';

/**
 * Quantities at the top of the event contract (29 integer digits) through
 * every number the product shows: the summary, every aggregation from every
 * rollup tier and from raw events, before and after rollup merges and
 * reconciliation. Sums of three such events wrapped to negative numbers when
 * sums were Decimal(38, 9). Expectations are BigInt arithmetic on the decimal
 * strings (test/oracle.ts), never values taken from a run.
 */
const HOUR = 3_600_000;
const DAY = 86_400_000;
const NINES = '9'.repeat(29);
/** The largest quantity the contract accepts. */
const MAX = `${NINES}.999999999`;

const now = Date.now();
const H = Math.floor((now - 3 * HOUR) / HOUR) * HOUR;
const D = Math.floor(H / DAY) * DAY;
const ev = (eventId: string, offsetMs: number, quantity: string, region: string): OracleEvent => ({
  eventId,
  customerId: 'ovf',
  metricName: 'big',
  timestamp: H + offsetMs,
  quantity,
  dimensions: { region },
});
// One request (one insert block: the rollup MVs sum it in one go) ...
const block = [ev('e1', 60_000, NINES, 'eu'), ev('e2', 61_000, NINES, 'us'), ev('e3', 62_000, NINES, 'eu')];
// ... and another: rollup rows that the read (and later a merge) must add up.
const more = [ev('e4', 31 * 60_000, MAX, 'ap'), ev('e5', 30 * 60_000, '0.000000001', 'eu'), ev('e6', HOUR + 5 * 60_000, NINES, 'us')];
const truth = [...block, ...more];
const body = (events: OracleEvent[]) => events.map(({ timestamp, ...e }) => ({ ...e, timestamp }));

let t: TestTenant;

beforeAll(async () => {
  t = await newTenant();
  for (const events of [block, more]) {
    const res = await t.json('POST', '/v1/events', { body: body(events) });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.accepted).toBe(events.length);
  }
  for (const aggregation of AGGREGATIONS) {
    const res = await t.json('POST', '/v1/meters', {
      body: { key: aggregation.toLowerCase(), metricName: 'big', aggregation, ...(aggregation === 'UNIQUE_COUNT' ? { uniqueDimension: 'region' } : {}) },
    });
    expect(res.status).toBe(201);
  }
});

// [granularity, from, to, the rollup tier that must serve it (aligned windows), or raw events]
const cases: [string, number, number, string][] = [
  ['minute', H, H + 2 * HOUR, TABLES.usagePerMinute],
  ['hour', H, H + 2 * HOUR, TABLES.usagePerHour],
  ['day', D, D + 2 * DAY, TABLES.usagePerDay],
  ['total', H + 1, H + 2 * HOUR, TABLES.usageEvents],
];

/** Every aggregation over every case equals the oracle, read from the source each case names. */
async function expectEveryMeterExact(): Promise<void> {
  for (const [granularity, from, to, table] of cases) {
    for (const aggregation of AGGREGATIONS) {
      const res = await t.json('GET', `/v1/meters/${aggregation.toLowerCase()}/usage?from=${from}&to=${to}&granularity=${granularity}`);
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      // Percentiles read the day tier (it keeps every quantity); the finer tiers' percentiles read raw events.
      expect(res.body.meta.source).toBe(PERCENTILES.has(aggregation) && table !== TABLES.usagePerDay ? TABLES.usageEvents : table);
      const byWindow = new Map<number, OracleEvent[]>();
      for (const e of truth.filter((x) => x.timestamp >= from && x.timestamp < to)) {
        const w = Math.max(windowStart(e.timestamp, granularity, 'UTC', from), from);
        byWindow.set(w, [...(byWindow.get(w) ?? []), e]);
      }
      for (const row of res.body.data as { windowStart: string; value: unknown }[]) {
        const expected = aggregate(aggregation, byWindow.get(Date.parse(row.windowStart)) ?? []);
        expect(row.value, `${aggregation} ${granularity} ${row.windowStart}`).toEqual(expected);
      }
      expect(res.body.data.filter((r: { value: unknown }) => r.value !== null && r.value !== 0 && r.value !== '0')).toHaveLength(byWindow.size);
    }
  }
}

describe('quantities at the contract maximum never overflow a number the product shows', () => {
  it('the summary is the exact sum', async () => {
    const res = await t.json('GET', `/v1/usage/summary?from=${H}&to=${H + 2 * HOUR}`);
    const sum = truth.reduce((s, e) => s + toUnits(e.quantity), 0n);
    expect(sum).toBeGreaterThan(toUnits(MAX) * 2n); // beyond what Decimal(38, 9) holds
    expect(res.body.data).toEqual([{ customerId: 'ovf', metricName: 'big', quantity: fromUnits(sum), events: truth.length }]);
  });

  it('every aggregation is exact from every rollup tier and from raw events, before and after rollup merges', async () => {
    await expectEveryMeterExact();
    const { db } = (await engine()).deps;
    for (const tier of ROLLUP_TIERS) await execute(db, 'test.merge', `OPTIMIZE TABLE ${db.database}.${tier.table} FINAL`);
    await expectEveryMeterExact();
  });

  it('reconciliation finds the rollups exact, and its rewrites are exact too', async () => {
    const { db } = (await engine()).deps;
    expect((await staleWindows(db, { sinceMs: 0 })).filter((w) => w.tenantId === t.tenantId)).toEqual([]);
    // a redelivery below the API (a second writer, Kafka): the rollups count it until reconciled
    const e = block[0]!;
    await redeliver(db, t.tenantId, [e]);
    expect((await staleWindows(db, { sinceMs: 0 })).filter((w) => w.tenantId === t.tenantId)).toHaveLength(1);
    await reconcileRollups(db, { settleMs: 0 });
    expect((await staleWindows(db, { sinceMs: 0 })).filter((w) => w.tenantId === t.tenantId)).toEqual([]);
    await expectEveryMeterExact();
  });

  it('the sum type holds any count of events at the maximum: 10^7 summed exactly, 2^64 - 1 of them fits', async () => {
    const { db } = (await engine()).deps;
    const row = z.object({ s: z.string() });
    const [summed] = await runQuery(
      db,
      'test.sum_many',
      `SELECT toString(${wideSum('q')}) AS s FROM (SELECT toDecimal128({max:String}, 9) AS q FROM numbers(10000000))`,
      { max: MAX },
      row,
    );
    expect(summed!.s).toBe(fromUnits(toUnits(MAX) * 10_000_000n));
    // The most a sum can be: a UInt64 count of events, each at the maximum. CAST refuses what does not fit.
    const worst = fromUnits(toUnits(MAX) * (2n ** 64n - 1n));
    const [held] = await runQuery(db, 'test.sum_bound', `SELECT toString(CAST({v:String} AS ${SUM_TYPE})) AS s`, { v: worst }, row);
    expect(held!.s).toBe(worst);
  });
});
