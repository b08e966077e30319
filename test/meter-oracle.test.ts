import { beforeAll, describe, expect, it } from 'vitest';
import { engine, newTenant, type TestTenant } from './harness.js';
import { aggregate, windowStart, type OracleEvent } from './oracle.js';
import { TABLES } from '../sql/names.js';
import { insertRows } from '../sql/query.js';
import { reconcileRollups } from '../jobs/reconcile-rollups.js';
import { staleWindows } from '../sql/queries/reconcile.js';
import { AGGREGATIONS } from '../sql/queries/meters.js';

// 2026-02-25 .. 2026-03-13 UTC: a month boundary and the US DST start (2026-03-08, America/New_York).
const FROM = Date.UTC(2026, 1, 25);
const TO = Date.UTC(2026, 2, 13);
const REGIONS = ['eu', 'us', 'ap'];

function rng(seed: number) {
  return () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
}

function generate(count: number): OracleEvent[] {
  const r = rng(7);
  return Array.from({ length: count }, (_, i) => {
    const dimensions: Record<string, string> = { model: `m${Math.floor(r() * 3)}` };
    if (r() < 0.9) dimensions.region = REGIONS[Math.floor(r() * 3)]!;
    const cents = Math.floor(r() * 100_000);
    return {
      eventId: `ev-${i}`,
      customerId: `cust-${Math.floor(r() * 3)}`,
      metricName: 'gpu.seconds',
      timestamp: FROM + Math.floor(r() * (TO - FROM)),
      quantity: r() < 0.3 ? String(Math.floor(r() * 10)) : `${Math.floor(cents / 1000)}.${String(cents % 1000).padStart(3, '0')}`,
      dimensions,
    };
  });
}

const truth = generate(1500);
const body = (events: OracleEvent[]) =>
  events.map(({ eventId, customerId, metricName, timestamp, quantity, dimensions }) => ({ eventId, customerId, metricName, timestamp, quantity, dimensions }));

let t: TestTenant;

beforeAll(async () => {
  // Minute and hour rollups keep everything here, so every tier serves these (months old) windows.
  await engine({ ROLLUP_MINUTE_RETENTION_DAYS: '0', ROLLUP_HOUR_RETENTION_DAYS: '0' });
  t = await newTenant();
  // duplicates at every layer the API sees: within a request, across requests, concurrently
  const half = truth.slice(0, 750);
  const withRepeats = [...half, ...half.slice(0, 40)];
  expect((await t.json('POST', '/v1/events', { body: body(withRepeats) })).body.duplicates).toBe(40);
  const rest = truth.slice(750);
  const answers = await Promise.all([0, 1, 2].map(() => t.json('POST', '/v1/events', { body: body([...rest, ...half.slice(100, 150)]) })));
  expect(answers.reduce((n, a) => n + a.body.accepted, 0)).toBe(rest.length);
  // and below the API: the same rows written to usage_events again, as a Kafka redelivery or a second writer would
  const { db } = (await engine()).deps;
  const again = truth.slice(200, 260).map((e) => ({
    tenant_id: t.tenantId,
    event_id: e.eventId,
    customer_id: e.customerId,
    metric_name: e.metricName,
    timestamp: e.timestamp,
    quantity: e.quantity,
    dimensions: Object.fromEntries(Object.entries(e.dimensions).sort()),
    ingested_at: e.timestamp,
  }));
  await insertRows(db, 'test.redeliver', TABLES.usageEvents, again);
  for (const aggregation of AGGREGATIONS) {
    const res = await t.json('POST', '/v1/meters', {
      body: {
        key: aggregation.toLowerCase(),
        metricName: 'gpu.seconds',
        aggregation,
        groupBy: ['region'],
        ...(aggregation === 'UNIQUE_COUNT' ? { uniqueDimension: 'region' } : {}),
      },
    });
    expect(res.status).toBe(201);
  }
});

async function usage(key: string, query: string) {
  const res = await t.json('GET', `/v1/meters/${key}/usage?${query}`);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body as { data: { windowStart: string; windowEnd: string; value: unknown; customerId?: string }[]; meta: { source: string } };
}

describe('rollups with duplicates below the API', () => {
  it('overcount until reconciled, and equal the deduplicated raw data after', async () => {
    const { db } = (await engine()).deps;
    const before = await usage('count', `from=${FROM}&to=${TO}&granularity=total`);
    expect(before.meta.source).toBe('usage_per_day');
    expect(before.data[0]!.value).toBe(truth.length + 60); // the MVs counted the redelivered rows
    expect((await staleWindows(db, { sinceMs: 0 })).length).toBeGreaterThan(0);

    const result = await reconcileRollups(db, { settleMs: 0 });
    expect(result.rewritten).toBeGreaterThan(0);
    expect(await staleWindows(db, { sinceMs: 0 })).toEqual([]);
    expect((await usage('count', `from=${FROM}&to=${TO}&granularity=total`)).data[0]!.value).toBe(truth.length);
  });
});

describe('every aggregation, granularity and time zone equals the oracle', () => {
  const cases: [string, string, number, number][] = [
    ['UTC', 'hour', FROM, TO],
    ['UTC', 'day', FROM, TO],
    ['UTC', 'month', FROM, TO],
    ['UTC', 'minute', Date.UTC(2026, 2, 1, 10), Date.UTC(2026, 2, 1, 13)],
    ['America/New_York', 'day', Date.UTC(2026, 1, 25, 5), Date.UTC(2026, 2, 12, 4)],
    ['America/New_York', 'week', Date.UTC(2026, 1, 25, 5), Date.UTC(2026, 2, 12, 4)],
    ['America/New_York', 'month', FROM, TO],
    ['America/New_York', 'hour', Date.UTC(2026, 2, 8, 0), Date.UTC(2026, 2, 9, 0)],
    ['Asia/Kolkata', 'hour', Date.UTC(2026, 2, 1), Date.UTC(2026, 2, 3)],
    ['Asia/Kolkata', 'total', FROM + 1234, TO - 999],
  ];
  for (const [tz, granularity, from, to] of cases) {
    it(`${granularity} in ${tz}`, async () => {
      const inRange = truth.filter((e) => e.timestamp >= from && e.timestamp < to);
      for (const aggregation of AGGREGATIONS) {
        const got = await usage(aggregation.toLowerCase(), `from=${from}&to=${to}&granularity=${granularity}&tz=${encodeURIComponent(tz)}`);
        const byWindow = new Map<number, OracleEvent[]>();
        for (const e of inRange) {
          const w = Math.max(windowStart(e.timestamp, granularity, tz, from), from);
          byWindow.set(w, [...(byWindow.get(w) ?? []), e]);
        }
        for (const row of got.data) {
          const expected = aggregate(aggregation, byWindow.get(Date.parse(row.windowStart)) ?? []);
          expect(row.value, `${aggregation} ${granularity} ${tz} ${row.windowStart}`).toEqual(expected);
        }
        // every event's window is in the answer
        const starts = new Set(got.data.map((r) => Date.parse(r.windowStart)));
        for (const w of byWindow.keys()) expect(starts.has(w)).toBe(true);
      }
    });
  }

  it('aligns windows to the zone: 23 h and 25 h days, local months, half-hour offsets', async () => {
    const ny = await usage('sum', `from=2026-03-07T05:00:00Z&to=2026-03-10T04:00:00Z&granularity=day&tz=America/New_York`);
    expect(ny.data.map((r) => (Date.parse(r.windowEnd) - Date.parse(r.windowStart)) / 3_600_000)).toEqual([24, 23, 24]);
    expect(ny.meta.source).toBe('usage_per_hour');
    const fall = await usage('sum', `from=2026-10-31T04:00:00Z&to=2026-11-02T05:00:00Z&granularity=day&tz=America/New_York`);
    expect(fall.data.map((r) => (Date.parse(r.windowEnd) - Date.parse(r.windowStart)) / 3_600_000)).toEqual([24, 25]);
    const month = await usage('sum', `from=2026-02-01T05:00:00Z&to=2026-04-01T04:00:00Z&granularity=month&tz=America/New_York`);
    expect(month.data.map((r) => [r.windowStart, r.windowEnd])).toEqual([
      ['2026-02-01T05:00:00.000Z', '2026-03-01T05:00:00.000Z'],
      ['2026-03-01T05:00:00.000Z', '2026-04-01T04:00:00.000Z'],
    ]);
    const kolkata = await usage('sum', `from=2026-03-01T00:30:00Z&to=2026-03-01T03:30:00Z&granularity=hour&tz=Asia/Kolkata`);
    expect(kolkata.data.map((r) => r.windowStart.slice(11, 16))).toEqual(['00:30', '01:30', '02:30']);
    expect(kolkata.meta.source).toBe('usage_per_minute');
    // Percentiles: UTC days read the day tier (it keeps every quantity), finer windows raw events.
    expect((await usage('p99', `from=${FROM}&to=${TO}&granularity=day`)).meta.source).toBe('usage_per_day');
    expect((await usage('p99', `from=${FROM}&to=${TO}&granularity=hour`)).meta.source).toBe('usage_events');
  });

  it("for one customer, every aggregation equals the oracle (from the day tier, and from raw events merging only that customer's identities)", async () => {
    // From FROM: UTC days, the day tier for every aggregation; from FROM + 1 ms: raw events for every one.
    for (const [from, source] of [
      [FROM, 'usage_per_day'],
      [FROM + 1, 'usage_events'],
    ] as const) {
      for (const customer of ['cust-0', 'cust-2']) {
        const mine = truth.filter((e) => e.customerId === customer && e.timestamp >= from);
        for (const aggregation of AGGREGATIONS) {
          const got = await usage(aggregation.toLowerCase(), `from=${from}&to=${TO}&granularity=day&customerId=${customer}`);
          expect(got.meta.source, aggregation).toBe(source);
          const byDay = new Map<number, OracleEvent[]>();
          for (const e of mine) {
            const w = Math.max(windowStart(e.timestamp, 'day', 'UTC', from), from);
            byDay.set(w, [...(byDay.get(w) ?? []), e]);
          }
          expect(got.data.length).toBe((TO - FROM) / 86_400_000);
          for (const row of got.data) {
            expect(row.value, `${aggregation} ${customer} ${row.windowStart}`).toEqual(aggregate(aggregation, byDay.get(Date.parse(row.windowStart)) ?? []));
          }
        }
      }
    }
  });

  it('groups by customer and by dimension, exactly', async () => {
    const got = await usage('sum', `from=${FROM}&to=${TO}&granularity=total&groupBy=customerId&groupBy=region`);
    const expected = new Map<string, OracleEvent[]>();
    for (const e of truth) {
      const k = `${e.customerId}|${e.dimensions.region ?? ''}`;
      expected.set(k, [...(expected.get(k) ?? []), e]);
    }
    expect(got.data).toHaveLength(expected.size);
    for (const row of got.data as any[]) expect(row.value).toBe(aggregate('SUM', expected.get(`${row.customerId}|${row.groupBy.region}`)!));
  });
});
