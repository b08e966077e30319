import { randomUUID } from 'node:crypto';
import { expect, it } from 'vitest';
import { now } from './clock.js';
import { engine } from './harness.js';
import { aggregate, type OracleEvent } from './oracle.js';
import type { Db } from '../sql/query.js';
import { redeliver } from './redeliver.js';
import { migrate } from '../sql/migrations.js';
import { databaseBefore, runMigrationAgain } from './upgrade.js';
import { rollupTier } from '../sql/datasets/rollups.js';
import { meterUsage, type MeterUsageQuery } from '../sql/queries/meter-usage.js';
import { reconcileRollups } from '../jobs/reconcile-rollups.js';

const DAY = 86_400_000;
const dayTier = rollupTier('day');

/**
 * Migration 23 on a database created before it: day-tier rows written earlier hold no quantities,
 * so a percentile over any window that holds one is answered from raw events (and says so); windows
 * whose rows all hold quantities are answered from the day tier; both equal the oracle. The
 * reconciler rewrites an old day it compares, which gives it quantities. The migration's statements run again
 * change nothing.
 */
it('migration 23: percentiles read the day tier where every row holds its quantities, raw events elsewhere, equal either way', async () => {
  const VERSION = 23;
  const db = await databaseBefore(VERSION);

  const today = new Date(now());
  const month = Date.UTC(today.getUTCFullYear(), today.getUTCMonth() - 1);
  const tenant = 'up';
  const events: OracleEvent[] = [];
  let n = 0;
  // Quantities with up to 9 fraction digits and repeats, on days 0-3 of the month, one customer and metric.
  const store = async (day: number, count: number) => {
    const batch = Array.from({ length: count }, (_, i) => {
      const e: OracleEvent = {
        eventId: `e${n++}`,
        customerId: 'c1',
        metricName: 'm.p',
        timestamp: month + day * DAY + ((i * 7_919) % 86_000) * 1000,
        quantity: i % 5 === 0 ? '3' : `${(i * 37) % 101}.${String((i * 7_654_321) % 1_000_000_000).padStart(9, '0')}`,
        dimensions: { region: i % 2 === 0 ? 'eu' : 'us' },
      };
      return e;
    });
    events.push(...batch);
    // Straight into usage_events (the MVs see them as any insert): this database has no API in front of it.
    await redeliver(db, tenant, batch);
  };
  await store(0, 40); // before migration 23: day rows without quantities
  await store(1, 40);
  await migrate(db);
  await store(1, 30); // day 1 now holds rows with and without quantities
  await store(2, 50); // day 2 only rows with them

  const read = async (aggregation: 'P50' | 'P99', fromDay: number, toDay: number, filter?: string) => {
    const q: MeterUsageQuery = {
      tenantId: tenant,
      metricName: 'm.p',
      aggregation,
      source: { kind: 'rollup', tier: dayTier },
      granularity: 'total',
      tz: 'UTC',
      fromMs: month + fromDay * DAY,
      toMs: month + toDay * DAY,
      customerId: 'c1',
      groupByCustomer: false,
      groupBy: [],
      filters: filter ? [{ dimension: 'region', values: [filter] }] : [],
    };
    const r = await meterUsage(db, q);
    const source = r.source.kind === 'raw' ? 'raw' : r.source.tier.name;
    return { source, values: r.cells.map((c) => c.value) };
  };
  const oracle = (aggregation: string, fromDay: number, toDay: number, filter?: string) =>
    aggregate(
      aggregation,
      events.filter((e) => e.timestamp >= month + fromDay * DAY && e.timestamp < month + toDay * DAY && (!filter || e.dimensions.region === filter)),
    );

  for (const aggregation of ['P50', 'P99'] as const) {
    expect(await read(aggregation, 2, 3)).toEqual({ source: 'day', values: [oracle(aggregation, 2, 3)] });
    expect(await read(aggregation, 2, 3, 'eu')).toEqual({ source: 'day', values: [oracle(aggregation, 2, 3, 'eu')] });
    expect(await read(aggregation, 1, 2)).toEqual({ source: 'raw', values: [oracle(aggregation, 1, 2)] });
    expect(await read(aggregation, 0, 3)).toEqual({ source: 'raw', values: [oracle(aggregation, 0, 3)] });
  }
  // A window without rows is no cell, from the tier.
  expect(await read('P99', 5, 6)).toEqual({ source: 'day', values: [] });

  // The reconciler, comparing the day tier with the hour tier, finds days 0 and 1 keeping fewer quantities
  // than events and rewrites them (nothing else differs: every hour equals raw events); the tier answers them.
  expect(await reconcileRollups(db, { settleMs: 0 })).toMatchObject({ rewritten: 0, minuteHoursRewritten: 0, daysRewritten: 2 });
  for (const aggregation of ['P50', 'P99'] as const) {
    expect(await read(aggregation, 0, 3)).toEqual({ source: 'day', values: [oracle(aggregation, 0, 3)] });
    expect(await read(aggregation, 0, 2, 'us')).toEqual({ source: 'day', values: [oracle(aggregation, 0, 2, 'us')] });
  }

  await runMigrationAgain(db, VERSION);
  await store(3, 20);
  expect(await read('P99', 0, 4)).toEqual({ source: 'day', values: [oracle('P99', 0, 4)] });
});

/**
 * A redelivery below the API (two rows of one identity with different quantities, as a Kafka
 * redelivery of an edited message or a second writer would store) reaches the day tier's
 * quantities twice, and the read answers from them until the reconciler rewrites the day: the
 * meters' rollup contract, which percentiles now share. After it, the tier equals raw events.
 */
it('a day percentile follows the reconciler: duplicates below the API counted until the day is rewritten, exact after', async () => {
  const { client } = (await engine()).deps.db;
  const db: Db = { client, database: `pct_${randomUUID().slice(0, 8)}` };
  await migrate(db);
  const day = Math.floor((now() - 3 * DAY) / DAY) * DAY;
  const event = (eventId: string, quantity: string, minute: number) => ({
    eventId,
    customerId: 'c1',
    metricName: 'm.d',
    timestamp: day + minute * 60_000,
    quantity,
  });
  // 99 events of 1 and one of 1000: P99 is 1000 (quantileExact's index floor(0.99 * 100) = 99).
  await redeliver(db, 'dup', [...Array.from({ length: 99 }, (_, i) => event(`a${i}`, '1', i)), event('big', '1000', 100)]);
  const q: MeterUsageQuery = {
    tenantId: 'dup',
    metricName: 'm.d',
    aggregation: 'P50',
    source: { kind: 'rollup', tier: dayTier },
    granularity: 'total',
    tz: 'UTC',
    fromMs: day,
    toMs: day + DAY,
    customerId: 'c1',
    groupByCustomer: false,
    groupBy: [],
    filters: [],
  };
  const p = async (aggregation: 'P50' | 'P99', source: MeterUsageQuery['source']) => {
    const r = await meterUsage(db, { ...q, aggregation, source });
    return r.cells.map((c) => c.value);
  };
  expect(await p('P99', q.source)).toEqual(['1000']);
  // Again a0..a49 at 1000 each (equal versions: FINAL keeps the last inserted row): raw events hold 49 of 1 and
  // 51 of 1000 (P50, index 50 of 100: 1000); the tier, until rewritten, 99 of 1 and 51 of 1000 (index 75 of 150: 1).
  await redeliver(
    db,
    'dup',
    Array.from({ length: 50 }, (_, i) => event(`a${i}`, '1000', i)),
  );
  expect(await p('P50', { kind: 'raw' })).toEqual(['1000']);
  expect(await p('P50', q.source)).toEqual(['1']);
  await reconcileRollups(db, { settleMs: 0 });
  expect(await p('P50', q.source)).toEqual(['1000']);
  expect(await p('P99', q.source)).toEqual(await p('P99', { kind: 'raw' }));
});
