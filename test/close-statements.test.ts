import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { now, testClock } from './clock.js';
import { engine, newTenant } from './harness.js';
import { billingSettings } from '../api/runtime-settings.js';
import { BillingCloser } from '../jobs/billing/close.js';
import { DEFAULT_CLOSE_STATEMENT_BOUNDS, periodChunks, type CloseStatementBounds } from '../jobs/billing/lines.js';
import { meterGroups, meterValuesAsOf, periodParamBytes, type MeterSpec, type PeriodRef } from '../sql/queries/billing-usage.js';
import { TABLES } from '../sql/names.js';
import { ReadLimitError, StorageError } from '../sql/storage-error.js';
import type { LoggedOp } from './billing-oracle.js';
import { GRACE_MS, clockPast, expectExportsMatchOracle, generateEvents, send, setUpTenant } from './billing-fixture.js';
import { recordStatements } from './record-statements.js';
import { units } from '../jobs/billing/decimal.js';

const DAY = 86_400_000;

beforeAll(async () => {
  await engine({ BILLING_CUTOFF_LAG_MS: '0', BILLING_GRACE_SECONDS: String(GRACE_MS / 1000) });
});

let recording: ReturnType<typeof recordStatements> | undefined;
afterEach(() => recording?.stop());

/** A close run of a seeded tenant with these statement bounds: its meter statements, and the exports checked against the oracle. */
async function closeWith(seed: number, statements: CloseStatementBounds | undefined) {
  const r = await engine();
  const t = await newTenant();
  const log: LoggedOp[] = [];
  await setUpTenant(t);
  await send(t, log, generateEvents(`s${seed}`, 300, seed, now()));
  await clockPast(log);
  recording = recordStatements(r.deps.db.client);
  const closer = new BillingCloser(r.deps.db, { settings: billingSettings(r.deps.config, testClock), statements });
  expect((await closer.run(t.tenantId)).exports.map((e) => e.sequence)).toEqual([1]);
  recording.stop();
  const [first] = await expectExportsMatchOracle(t, log);
  expect(first!.lines.length).toBeGreaterThan(20);
  return recording.list.filter((s) => s.name === 'billing.meter_values' && s.params.tenantId === t.tenantId);
}

describe("a close run's meter statements", () => {
  it('are one per group of meters reading the same events by default, each over every customer to bill, and spill their grouping past BILLING_CLOSE_SPILL_BYTES', async () => {
    const statements = await closeWith(31, undefined);
    // the fixture's eight meters: six of api.calls without a filter, one of api.calls in two regions, one of gpu.seconds
    expect(statements.map((s) => [s.params.metricName, Object.keys(s.params).filter((k) => k.startsWith('fv')).length])).toEqual([
      ['api.calls', 0],
      ['api.calls', 1],
      ['gpu.seconds', 0],
    ]);
    expect(statements[0]!.params.uniqueDimension).toBe('region');
    for (const s of statements) {
      expect(new Set(s.params.pc as string[])).toEqual(new Set(['c-ny', 'c-kolkata', 'c-mid', 'c-berlin', 'c-default']));
      expect(s.query).toMatch(new RegExp(`max_bytes_before_external_group_by = ${DEFAULT_CLOSE_STATEMENT_BOUNDS.groupBySpillBytes}(,|$|\\s)`));
    }
  });

  it('cut into many statements by the bytes of their periods, with every grouping spilled to disk, still export exactly the oracle', async () => {
    const statements = await closeWith(37, { periodBytes: 200, groupBySpillBytes: 1 });
    // 35-40 bytes a period here: five a statement, so a customer's periods fall in several statements
    const groups = 3; // the fixture's meters' groups (above)
    expect(statements.length % groups).toBe(0);
    const chunks = statements.filter((_, i) => i % groups === 0);
    expect(chunks.length).toBeGreaterThanOrEqual(6);
    const perCustomer = new Map<string, number>();
    for (const s of statements) expect(s.query).toMatch(/max_bytes_before_external_group_by = 1(,|$|\s)/);
    for (const s of chunks) {
      const pc = s.params.pc as string[];
      const ps = s.params.ps as number[];
      const pe = s.params.pe as number[];
      expect(pc.reduce((n, customerId, i) => n + periodParamBytes({ customerId, startMs: ps[i]!, endMs: pe[i]! }), 0)).toBeLessThanOrEqual(200);
      for (const c of new Set(pc)) perCustomer.set(c, (perCustomer.get(c) ?? 0) + 1);
    }
    expect(Math.max(...perCustomer.values())).toBeGreaterThan(1);
  });
});

describe('periodChunks', () => {
  const period = (customerId: string, i: number): PeriodRef => ({ customerId, startMs: i * DAY, endMs: (i + 1) * DAY });
  const periods = Array.from({ length: 1000 }, (_, i) => period(`customer-${i % 37}-ü`, i));

  it('keeps every period once, in order, each chunk within the bytes unless one period alone passes them', () => {
    for (const bytes of [1, 50, 1000, 64 * 1024, Infinity]) {
      const chunks = periodChunks(periods, bytes);
      expect(chunks.flat()).toEqual(periods);
      for (const c of chunks) {
        expect(c.length).toBeGreaterThan(0);
        if (c.length > 1) expect(c.reduce((n, p) => n + periodParamBytes(p), 0)).toBeLessThanOrEqual(bytes);
      }
      // chunks are full: the next chunk's first period would not have fitted
      for (let i = 0; i + 1 < chunks.length; i++) {
        expect(chunks[i]!.reduce((n, p) => n + periodParamBytes(p), 0) + periodParamBytes(chunks[i + 1]![0]!)).toBeGreaterThan(bytes);
      }
    }
    expect(periodChunks(periods, 1)).toHaveLength(1000);
    expect(periodChunks(periods, Infinity)).toHaveLength(1);
    expect(periodChunks([], 100)).toEqual([]);
  });

  it("counts a period's bytes as its bound values take them: the id in UTF-8, quoted, and both instants' digits", () => {
    expect(periodParamBytes({ customerId: 'ab', startMs: 0, endMs: 86_400_000 })).toBe(2 + 3 + 1 + 8 + 2);
    expect(periodParamBytes({ customerId: 'ü', startMs: 10, endMs: 20 })).toBe(2 + 3 + 2 + 2 + 2);
  });
});

describe('meterGroups', () => {
  const m = (metricName: string, aggregation: MeterSpec['aggregation'], filter: Record<string, string[]> = {}, uniqueDimension?: string) => ({
    metricName,
    aggregation,
    filter,
    uniqueDimension,
  });

  it('puts meters that read the same events (metric and filter, in any order) in one group, in their order, with at most one unique dimension', () => {
    const sum = m('a', 'SUM');
    const p99 = m('a', 'P99');
    const other = m('b', 'SUM');
    const eu = m('a', 'MAX', { region: ['eu', 'us'], tier: ['x'] });
    const euAgain = m('a', 'COUNT', { tier: ['x'], region: ['us', 'eu'] });
    const euOnly = m('a', 'COUNT', { region: ['eu'] });
    const byRegion = m('a', 'UNIQUE_COUNT', {}, 'region');
    const byRegionAgain = m('a', 'UNIQUE_COUNT', {}, 'region');
    const byHost = m('a', 'UNIQUE_COUNT', {}, 'host');
    const latest = m('a', 'LATEST');
    expect(meterGroups([sum, other, eu, byRegion, p99, euAgain, byHost, euOnly, byRegionAgain, latest])).toEqual([
      [sum, byRegion, p99, byRegionAgain, latest],
      [other],
      [eu, euAgain],
      [byHost],
      [euOnly],
    ]);
    expect(meterGroups([])).toEqual([]);
  });
});

describe("a meter statement's memory", () => {
  it('stays under a memory limit its grouping by event id passes, by spilling to disk, with the same values', async () => {
    const r = await engine();
    const { db } = r.deps;
    const tenantId = `spill-${Math.random().toString(36).slice(2)}`;
    const n = 1_000_000;
    const customers = 40;
    // A day start 20 days back: every event in the past, inside retention, whatever the day it runs.
    const fromMs = Math.floor(now() / DAY) * DAY - 20 * DAY;
    await db.client.command({
      query: `INSERT INTO ${db.database}.${TABLES.usageEvents} (tenant_id, event_id, customer_id, metric_name, timestamp, quantity, dimensions, ingested_at)
SELECT {tenantId:String}, concat('e-', toString(number)), concat('c-', toString(number % {customers:UInt32})), 'spill.metric',
  fromUnixTimestamp64Milli(toInt64({fromMs:Int64} + (number % 864000) * 1000), 'UTC'), toDecimal128(number % 1000, 9) / 10, map('k', toString(number % 7)),
  fromUnixTimestamp64Milli(toInt64({fromMs:Int64}), 'UTC')
FROM numbers({n:UInt32})`,
      query_params: { tenantId, customers, fromMs, n },
    });
    const expected = new Map<string, bigint>();
    for (let i = 0; i < n; i++) expected.set(`c-${i % customers}`, (expected.get(`c-${i % customers}`) ?? 0n) + BigInt(i % 1000));
    const periods = [...expected.keys()].map((customerId) => ({ customerId, startMs: fromMs, endMs: fromMs + 10 * DAY }));
    const meter = { metricName: 'spill.metric', aggregation: 'SUM' as const, filter: {} };
    const read = (settings: Record<string, number>) =>
      meterValuesAsOf(
        { ...db, readSettings: { max_threads: 1, max_memory_usage: 128 * 1024 * 1024, ...settings } },
        { tenantId, cutoffMs: now() + DAY, meter, periods },
      );

    // Without spilling, the grouping of 1,000,000 event ids passes 128 MiB ...
    const refused = await read({}).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(StorageError);
    expect(refused instanceof ReadLimitError ? refused.limit : (refused as StorageError).clickhouseCode).toMatch(/^(max_memory_usage|241)$/);
    // ... spilling past 8 MiB, it answers within them, exactly.
    const values = await read({ max_bytes_before_external_group_by: 8 * 1024 * 1024 });
    expect(values).toHaveLength(customers);
    for (const v of values) {
      expect(units(v.value)).toBe(expected.get(v.customerId)! * 100_000_000n);
      expect(v.events).toBe(n / customers);
    }
  });
});
