import type { ClickHouseClient } from '@clickhouse/client';
import { afterEach, expect, it } from 'vitest';
import { z } from 'zod';
import { now } from './clock.js';
import { engine, newTenant, type TestTenant } from './harness.js';
import { TABLES } from '../sql/names.js';
import { insertRows, runQuery } from '../sql/query.js';
import { migrate } from '../sql/migrations.js';
import { databaseBefore, runMigrationAgain } from './upgrade.js';
import { waitFor } from './wait.js';
import { recordStatements, type RecordedStatement } from './record-statements.js';
import { RECONCILE_OVERLAP_MS, reconcileRollups } from '../jobs/reconcile-rollups.js';
import { CUSTOMER_MONTH_PROJECTION } from '../sql/datasets/rollups.js';
import { redeliver } from './redeliver.js';

const DAY = 86_400_000;
const HOUR = 3_600_000;
const SCALE = 10n ** 9n;
const MAX_DECIMAL = '99999999999999999999999999999.999999999'; // Decimal(38, 9)'s largest: three of them need Decimal(76, 9)

type Event = { eventId: string; customerId: string; metricName: string; timestamp: number; quantity: string; dimensions: Record<string, string> };
type Row = { customerId: string; metricName: string; quantity: string; events: number };

const units = (q: string) => {
  const [whole, frac = ''] = q.split('.');
  return BigInt(whole!) * SCALE + BigInt(frac.padEnd(9, '0'));
};
const decimal = (u: bigint) => {
  const frac = (u % SCALE).toString().padStart(9, '0').replace(/0+$/, '');
  return `${u / SCALE}${frac ? `.${frac}` : ''}`;
};

/** What the summary must say for [from, to): per customer and metric, the exact sum and count of the events there. */
function truth(events: readonly Event[], from: number, to: number, customerId?: string): Row[] {
  const rows = new Map<string, { customerId: string; metricName: string; sum: bigint; events: number }>();
  for (const e of events) {
    if (e.timestamp < from || e.timestamp >= to || (customerId !== undefined && e.customerId !== customerId)) continue;
    const key = `${e.customerId}\u0000${e.metricName}`;
    const row = rows.get(key) ?? { customerId: e.customerId, metricName: e.metricName, sum: 0n, events: 0 };
    row.sum += units(e.quantity);
    row.events += 1;
    rows.set(key, row);
  }
  return [...rows.entries()]
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([, r]) => ({ customerId: r.customerId, metricName: r.metricName, quantity: decimal(r.sum), events: r.events }));
}

let stopRecording: (() => void) | undefined;
afterEach(() => stopRecording?.());

/** Whether the engine reads the projection per customer and month for this statement. */
async function readsProjection(client: ClickHouseClient, s: RecordedStatement): Promise<boolean> {
  // The summary's statement names its own output format (the engine writes the answer's JSON); EXPLAIN's output is the plan.
  const statement = s.query.replace(/\nFORMAT \w+\s*$/, '');
  const plan = (await (await client.query({ query: `EXPLAIN projections = 1 ${statement}`, query_params: s.params, format: 'JSONEachRow' })).json()) as {
    explain: string;
  }[];
  return plan.some((line) => line.explain.includes(`ReadFromMergeTree (${CUSTOMER_MONTH_PROJECTION})`));
}

async function summary(t: TestTenant, query: string): Promise<{ data: Row[]; meta: { source: string; rawWindows: number } }> {
  const res = await t.json('GET', `/v1/usage/summary?${query}`);
  expect(res.status).toBe(200);
  return res.body;
}

/**
 * The whole-tenant summary of a month reads the day tier's projection per customer and month
 * (sql/datasets/rollups.ts customerMonthDdl): one row per customer, metric and part instead of one
 * per day and dimension map. The projection must be exactly the tier: after a redelivery the views
 * counted twice and the reconciler's DELETE and rewrite, after merges, with unreconciled windows in
 * the month, beside partial months, per customer and page by page.
 */
it("a whole month's summary reads the day tier's projection per customer and month, exact as the events", async () => {
  const r = await engine();
  const t = await newTenant();
  const instant = now(); // one reading of the clock
  const today = new Date(instant);
  // Two whole UTC months before the current one, both in the past whatever the date.
  const month = Date.UTC(today.getUTCFullYear(), today.getUTCMonth() - 2);
  const next = Date.UTC(today.getUTCFullYear(), today.getUTCMonth() - 1);
  const current = Date.UTC(today.getUTCFullYear(), today.getUTCMonth());

  const events: Event[] = [];
  const add = (timestamp: number, quantity: string, i: number) =>
    events.push({
      eventId: `m${events.length}`,
      customerId: `c${i % 4}`,
      metricName: i % 3 === 0 ? 'month.b' : 'month.a',
      timestamp,
      quantity,
      dimensions: { region: `r${i % 3}` },
    });
  // Spread over both months and the day before the first (never past now, which may be the current month's first minutes).
  for (let i = 0; i < 150; i++) add(month - DAY + ((i * 13 * HOUR + i * 61_000) % (current - month + DAY)), `${i}.${String(i * 7).padStart(3, '0')}`, i);
  // The months' edges, to the millisecond, and sums past Decimal(38, 9).
  add(month, '0.000000001', 1);
  add(next - 1, '0.000000002', 1);
  add(next, '0.000000004', 1);
  add(current - 1, '0.000000008', 1);
  for (const ts of [month + 5 * DAY, month + 6 * DAY, next + 2 * DAY]) add(ts, MAX_DECIMAL, 2);
  const posted = await t.json('POST', '/v1/events', { body: events });
  expect(posted.body.accepted).toBe(events.length);

  // A redelivery past the writer (as from Kafka): the rollup views count it twice until the reconciler rewrites its windows.
  const e = events[10]!;
  await redeliver(r.deps.db, t.tenantId, [e]);
  // Reconciled up to this instant (the watermark trails a run's start by the overlap): rows stored later are not.
  const reconcileNow = async () => {
    const stored = Date.now();
    while (Date.now() <= stored) await new Promise((resolve) => setTimeout(resolve, 1));
    const result = await reconcileRollups(r.deps.db, { nowMs: Date.now() + RECONCILE_OVERLAP_MS });
    const at = Date.now();
    while (Date.now() <= at) await new Promise((resolve) => setTimeout(resolve, 1));
    return result;
  };
  const reconciled = await reconcileNow();
  expect(reconciled.rewritten).toBeGreaterThan(0); // the DELETE and rewrite of a day in the projected tier

  const recorded = recordStatements(r.deps.db.client);
  stopRecording = recorded.stop;
  const check = async (from: number, to: number, projection: boolean, customerId?: string) => {
    const q = `from=${from}&to=${to}&limit=10000${customerId ? `&customerId=${customerId}` : ''}`;
    const before = recorded.list.length;
    const s = await summary(t, q);
    expect(s.data).toEqual(truth(events, from, to, customerId));
    expect(s.meta.source).toBe('usage_per_day+usage_events');
    const statement = recorded.list.slice(before).find((st) => st.name === 'usage.summary')!;
    expect(await readsProjection(r.deps.db.client, statement)).toBe(projection);
    return s;
  };

  expect((await check(month, next, true)).meta.rawWindows).toBe(0);
  await check(month, current, true); // two whole months
  await check(month - DAY, next + DAY, true); // a whole month and a day each side, read day by day
  await check(month + DAY, next, false); // no whole month
  await check(month, next, true, 'c2'); // one customer: its sums past Decimal(38, 9)
  // Page by page: the pages make the whole answer.
  const pages: Row[] = [];
  let cursor: string | null = null;
  do {
    const res: { body: { data: Row[]; nextCursor: string | null } } = await t.json(
      'GET',
      `/v1/usage/summary?from=${month}&to=${current}&limit=3${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
    );
    pages.push(...res.body.data);
    cursor = res.body.nextCursor;
  } while (cursor);
  expect(pages).toEqual(truth(events, month, current));
  // The raw events say the same (a window 1 ms short of whole days is read raw).
  expect((await summary(t, `from=${month}&to=${next - 1}&limit=10000`)).data).toEqual(truth(events, month, next - 1));

  // Merges rebuild the projection of the merged part: still exact, still read.
  await r.deps.db.client.command({ query: `OPTIMIZE TABLE ${r.deps.db.database}.${TABLES.usagePerDay} FINAL` });
  await check(month, next, true);

  // A late event in the month, not reconciled yet: the month is read day by day, that day raw.
  const late: Event = { eventId: 'late', customerId: 'c1', metricName: 'month.a', timestamp: month + 9 * DAY + 5, quantity: '2.5', dimensions: {} };
  expect((await t.json('POST', '/v1/events', { body: [late] })).body.accepted).toBe(1);
  events.push(late);
  expect((await check(month, next, false)).meta.rawWindows).toBe(1);
  await reconcileNow();
  expect((await check(month, next, true)).meta.rawWindows).toBe(0);
});

/**
 * Migration 22 on a database created before it, holding day-tier rows in several parts: the
 * projection is built for the parts already stored (its mutation), answers what the rows answer,
 * and running the migration's statements again changes nothing.
 */
it('migration 22 builds the projection for parts stored before it, equal to their rows, and is idempotent', async () => {
  const VERSION = 22;
  const db = await databaseBefore(VERSION);
  const today = new Date(now());
  const month = Date.UTC(today.getUTCFullYear(), today.getUTCMonth() - 1);
  // Three inserts (three parts), each customer's days and dimensions spread over the month.
  for (let part = 0; part < 3; part++) {
    const rows = Array.from({ length: 60 }, (_, i) => ({
      tenant_id: 'up',
      metric_name: `m${i % 2}`,
      customer_id: `c${i % 5}`,
      dimensions: { region: `r${(i + part) % 3}` },
      window_start: (month + (i % 28) * DAY) / 1000,
      events: i + 1,
      quantity_sum: `${i}.${part}5`,
      quantity_min: '0',
      quantity_max: `${i}`,
    }));
    await insertRows(db, 'test.old_day_rows', TABLES.usagePerDay, rows);
  }
  await migrate(db);
  const projected = z.object({ n: z.coerce.number() });
  await waitFor(
    'the projection in every part',
    async () =>
      (
        await runQuery(
          db,
          'test.projection_parts',
          `SELECT countIf(NOT has(projections, {p:String})) AS n FROM system.parts WHERE database = {d:String} AND table = {t:String} AND active`,
          { p: CUSTOMER_MONTH_PROJECTION, d: db.database, t: TABLES.usagePerDay },
          projected,
        )
      )[0]!.n === 0,
    20_000,
  );
  const totals = (settings: string) =>
    runQuery(
      db,
      'test.month_totals',
      `SELECT customer_id AS customerId, toString(metric_name) AS metricName, toString(sum(quantity_sum)) AS quantity, sum(events) AS events
FROM ${db.database}.${TABLES.usagePerDay} WHERE tenant_id = 'up' AND toStartOfMonth(window_start) IN {months:Array(Date)}
GROUP BY customer_id, metric_name ORDER BY customerId, metricName SETTINGS ${settings}`,
      { months: [new Date(month).toISOString().slice(0, 10)] },
      z.object({ customerId: z.string(), metricName: z.string(), quantity: z.string(), events: z.coerce.number() }),
    );
  const fromRows = await totals('optimize_use_projections = 0');
  expect(fromRows).toHaveLength(10);
  expect(await totals(`force_optimize_projection_name = '${CUSTOMER_MONTH_PROJECTION}'`)).toEqual(fromRows);
  await runMigrationAgain(db, VERSION);
  expect(await totals(`force_optimize_projection_name = '${CUSTOMER_MONTH_PROJECTION}'`)).toEqual(fromRows);
});
