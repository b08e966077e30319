import { beforeAll, describe, expect, it } from 'vitest';
import { now, testClock } from './clock.js';
import { z } from 'zod';
import { engine, newTenant, type TestTenant } from './harness.js';
import { billingSettings, readLimits } from '../api/runtime-settings.js';
import { BillingCloser, type FaultStage } from '../jobs/billing/close.js';
import { TABLES } from '../sql/names.js';
import { backgroundDb, countRows, runQuery } from '../sql/query.js';
import type { LoggedOp } from './billing-oracle.js';
import { touchedDays } from '../sql/queries/billing-usage.js';
import { engineNow } from '../sql/queries/exports.js';
import { movedCustomers } from '../sql/queries/customers.js';
import { CUSTOMERS, GRACE_MS, clockPast, expectExportsMatchOracle, generateEvents, send, setUpTenant } from './billing-fixture.js';
import { computeLines } from '../jobs/billing/lines.js';
import { LONGEST_PERIOD_MS } from '../jobs/billing/periods.js';
import { recordStatements } from './record-statements.js';

const DAY = 86_400_000;

beforeAll(async () => {
  await engine({ BILLING_CUTOFF_LAG_MS: '0', BILLING_GRACE_SECONDS: String(GRACE_MS / 1000) });
});

/** A second closer over the same engine: what another instance (or a process that crashed) would run. */
async function closer(fault?: (stage: FaultStage) => void) {
  const r = await engine();
  return new BillingCloser(r.deps.db, { settings: billingSettings(r.deps.config, testClock), linesPerInsert: 7, ...(fault ? { fault } : {}) });
}

async function count(t: TestTenant, table: string, where = '') {
  const { db } = (await engine()).deps;
  return countRows(db, 'test.count', `SELECT 1 FROM ${db.database}.${table} WHERE tenant_id = {tenantId:String}${where}`, { tenantId: t.tenantId });
}

async function seeded(seed: number) {
  const t = await newTenant();
  const log: LoggedOp[] = [];
  await setUpTenant(t);
  await send(t, log, generateEvents(`s${seed}`, 200, seed, now()));
  await clockPast(log);
  return { t, log };
}

describe('a close run that crashes', () => {
  for (const stage of ['claimed', 'lines-partly-written', 'lines-written'] as const) {
    it(`is completed by the next run with its own cutoff, once, after a crash at "${stage}"`, async () => {
      const { t, log } = await seeded(stage.length);
      const crashing = await closer((s) => {
        if (s === stage) throw new Error(`crash at ${s}`);
      });
      await expect(crashing.run(t.tenantId)).rejects.toThrow(`crash at ${stage}`);
      expect((await t.json('GET', '/v1/billing/exports')).body.data).toEqual([]);
      if (stage !== 'claimed') expect(await count(t, TABLES.billingExportLines)).toBeGreaterThan(0);

      // events stored after the crash belong to the next export, not to the one being completed
      await send(t, log, generateEvents(`late${stage}`, 30, 77, now()));
      await clockPast(log);
      const rerun = await t.json('POST', '/v1/billing/close');
      expect(rerun.body.data.map((e: any) => e.sequence)).toEqual([1, 2]);
      const [first, second] = await expectExportsMatchOracle(t, log);
      expect(first!.lines.every((l) => l.kind === 'usage')).toBe(true);
      expect(second!.lines.every((l) => l.kind === 'adjustment')).toBe(true);
      expect(await count(t, TABLES.billingClaims)).toBe(2);
      // running again changes nothing
      expect((await t.json('POST', '/v1/billing/close')).body.data).toEqual([]);
    });
  }
});

describe('concurrent close runs', () => {
  it('two instances closing at once write one export, with one claim', async () => {
    const { t, log } = await seeded(5);
    const instances = await Promise.all([closer(), closer(), closer()]);
    const results = await Promise.all([
      ...instances.map((c) => c.run(t.tenantId)),
      t.json('POST', '/v1/billing/close').then((r) => ({ exports: r.body.data })),
    ]);
    const ids = new Set(results.flatMap((r) => r.exports.map((e: any) => e.id)));
    expect(ids.size).toBe(1);
    expect((await t.json('GET', '/v1/billing/exports')).body.data).toHaveLength(1);
    expect(await count(t, TABLES.billingClaims)).toBe(1);
    expect(await count(t, TABLES.billingExports, ' AND sequence = 1')).toBeGreaterThanOrEqual(1);
    await expectExportsMatchOracle(t, log);
  });

  it('runs of one instance never overlap: a second run waits and finds nothing left to report', async () => {
    const { t, log } = await seeded(9);
    const c = await closer();
    const [a, b] = await Promise.all([c.run(t.tenantId), c.run(t.tenantId)]);
    expect(a.exports.map((e) => e.sequence)).toEqual([1]);
    expect(b.exports).toEqual([]);
    await expectExportsMatchOracle(t, log);
  });
});

describe('a close run as background work', () => {
  it('reads on one engine thread at niceness 19, below API reads, and still closes exactly', async () => {
    const { t, log } = await seeded(11);
    const r = await engine();
    const reads: string[] = [];
    // The engine's own client, recording the text of every read the run sends.
    const client = new Proxy(r.deps.db.client, {
      get(target, prop) {
        const value: unknown = Reflect.get(target, prop, target);
        if (typeof value !== 'function') return value;
        if (prop !== 'query' && prop !== 'exec') return value.bind(target);
        return (args: { query: string }) => {
          reads.push(args.query);
          return (value as (a: unknown) => unknown).call(target, args);
        };
      },
    });
    const c = new BillingCloser({ ...r.deps.db, client }, { settings: billingSettings(r.deps.config, testClock) });
    expect((await c.run(t.tenantId)).exports.map((e) => e.sequence)).toEqual([1]);
    await expectExportsMatchOracle(t, log);
    // touched days, customers, meter values, the claim, the previous export, the file: all of them background reads
    expect(reads.length).toBeGreaterThan(5);
    for (const sql of reads) expect(sql).toMatch(/\nSETTINGS (.*, )?max_threads = 1, os_thread_priority = 19(,|$|\s)/);
  });

  it('states its settings to the engine: one thread, niceness 19 (API readers keep their own limits over them)', async () => {
    const { db } = (await engine()).deps;
    const row = z.object({ threads: z.coerce.number(), niceness: z.coerce.number() });
    const sql = "SELECT getSetting('max_threads') AS threads, getSetting('os_thread_priority') AS niceness";
    expect(await runQuery(backgroundDb(db), 'test.settings', sql, {}, row)).toEqual([{ threads: 1, niceness: 19 }]);
    const plain = await runQuery(db, 'test.settings', sql, {}, row);
    expect(plain).toEqual([{ threads: expect.any(Number), niceness: 0 }]);
    const reader = { ...backgroundDb(db), readLimits: { ...readLimits((await engine()).deps.config), max_threads: 2, os_thread_priority: 5 } };
    expect(await runQuery(reader, 'test.settings', sql, {}, row)).toEqual([{ threads: 2, niceness: 5 }]);
  });
});

describe('the days a close run looks at (touchedDays)', () => {
  // A UTC month start: the default cycle's period ends there. The tenant's other cycles (billing-fixture.ts: New
  // York months, Kolkata weeks from Wednesday, UTC months from the 15th, Berlin days) end 04:00-23:00 UTC away.
  const MONTH_START = Date.UTC(2020, 0, 1);
  const MINUTE = 60_000;

  /** One computeLines call whose previous and own closedBefore are the given instants; the touched-days statements it issued. */
  async function touchedWindows(t: TestTenant, prevClosedBeforeMs: number, closedBeforeMs: number, before?: Parameters<typeof recordStatements>[1]) {
    const r = await engine();
    const { db } = r.deps;
    const cutoffMs = (await engineNow(db, {}))[0]!.nowMs;
    const base = billingSettings(r.deps.config, testClock);
    // closedBefore = cutoff + clockOffset - grace: the offset puts it where the test wants it.
    const s = { ...base, clockOffsetMs: closedBeforeMs + base.graceMs - cutoffMs };
    const statements = recordStatements(db.client, before);
    try {
      await computeLines(db, t.tenantId, s, cutoffMs, { sequence: 0, cutoffMs: cutoffMs - (closedBeforeMs - prevClosedBeforeMs) });
    } finally {
      statements.stop();
    }
    return statements.list.filter((x) => x.name === 'billing.touched_days').map((x) => x.params.newFromMs);
  }

  it('are only the days stored since the previous cutoff when no period of a cycle in use ends in between, the last 32 days when one does', async () => {
    const { t } = await seeded(43);
    // Nothing ends in (00:50, 01:30] UTC: days from closedBefore on (none: the statement keeps only rows stored since).
    expect(await touchedWindows(t, MONTH_START + 50 * MINUTE, MONTH_START + 90 * MINUTE)).toEqual([MONTH_START + 90 * MINUTE]);
    // The default cycle's month ends in (-1 s, +1 s]: every day from 32 days before the previous closedBefore.
    expect(await touchedWindows(t, MONTH_START - 1000, MONTH_START + 1000)).toEqual([MONTH_START - 1000 - LONGEST_PERIOD_MS]);
  });

  it('are read again in full when a customer record changes to a cycle with a period ending in between while the run reads', async () => {
    const { t } = await seeded(47);
    let changed = false;
    // Cape Verde (UTC-1) days end at 01:00 UTC, inside (00:50, 01:30]: the record is saved after the run chose its days.
    const windows = await touchedWindows(t, MONTH_START + 50 * MINUTE, MONTH_START + 90 * MINUTE, async (statement) => {
      if (changed || statement.name !== 'billing.touched_days') return;
      changed = true;
      const res = await t.json('PUT', '/v1/customers/c-cape-verde', {
        body: { name: 'c-cape-verde', timezone: 'Atlantic/Cape_Verde', billingCycle: { interval: 'day' } },
      });
      expect(res.status, JSON.stringify(res.body)).toBe(201);
    });
    expect(windows).toEqual([MONTH_START + 90 * MINUTE, MONTH_START + 50 * MINUTE - LONGEST_PERIOD_MS]);
  });

  it('come one row per customer, each UTC day of its events once and in order, flagged when a row of that day was stored since the previous cutoff', async () => {
    const t = await newTenant();
    const log: LoggedOp[] = [];
    await setUpTenant(t);
    const { db } = (await engine()).deps;
    const engineMs = async () => (await engineNow(db, {}))[0]!.nowMs;
    const midnight = Math.floor(now() / DAY) * DAY - 10 * DAY;
    const edges = [midnight, midnight - 1].map((timestamp, i) => ({
      eventId: `td-edge-${i}`,
      customerId: 'c-default',
      metricName: 'gpu.seconds',
      timestamp,
      quantity: '1',
      dimensions: {},
    }));
    const before = [...generateEvents('td-a', 150, 5, now()), ...edges];
    await send(t, log, before);
    await clockPast(log);
    const sinceMs = await engineMs();
    while ((await engineMs()) <= sinceMs) await new Promise((resolve) => setTimeout(resolve, 1));
    const since = generateEvents('td-b', 40, 9, now());
    await send(t, log, since);
    await clockPast(log);
    const cutoffMs = (await engineMs()) + 1;

    // Every customer with a record moved from the tenant default when setUpTenant saved it, before sinceMs.
    const moved = Object.entries(CUSTOMERS).flatMap(([id, cycle]) => (cycle ? [id] : []));
    const expected = (metrics: string[], closedBeforeMs: number, newFromMs: number, movedIds: string[], movedFromMs: number | undefined) => {
      const byCustomer = new Map<string, Map<number, boolean>>();
      for (const [events, stored] of [
        [before, false],
        [since, true],
      ] as const) {
        for (const e of events) {
          const changed = stored || (movedFromMs !== undefined && movedIds.includes(e.customerId) && e.timestamp >= movedFromMs);
          if (!metrics.includes(e.metricName) || e.timestamp >= closedBeforeMs || (e.timestamp < newFromMs && !changed)) continue;
          const days = byCustomer.get(e.customerId) ?? new Map<number, boolean>();
          const day = Math.floor(e.timestamp / DAY) * DAY;
          days.set(day, (days.get(day) ?? false) || changed);
          byCustomer.set(e.customerId, days);
        }
      }
      return [...byCustomer.keys()].sort().map((customerId) => {
        const days = [...byCustomer.get(customerId)!.entries()].sort((a, b) => a[0] - b[0]);
        return { customerId, dayMs: days.map(([d]) => d), changed: days.map(([, c]) => c) };
      });
    };
    // The records moved since sinceMs (none) or since 0 (all: the tenant has no exports).
    const { tenantId } = t;
    expect(await movedCustomers(db, { tenantId, movedSinceMs: sinceMs, uptoSequence: 0 }, {})).toEqual([]);
    const movedAll = await movedCustomers(db, { tenantId, movedSinceMs: 0, uptoSequence: 0 }, {});
    expect(movedAll.map((m) => m.customerId)).toEqual([...moved].sort());
    expect(movedAll.every((m) => m.movedAtMs > 0 && m.movedAtMs < sinceMs)).toBe(true);
    // With `moved`: these customers' days from fromMs on count as changed.
    const withMoved = (customerIds: string[], fromMs: number) => ({ moved: { customerIds, fromMs } });
    const cases = [
      { metrics: ['api.calls', 'gpu.seconds'], closedBeforeMs: now() + DAY, newFromMs: 0 },
      { metrics: ['gpu.seconds'], closedBeforeMs: now() + DAY, newFromMs: 0 },
      { metrics: ['api.calls', 'gpu.seconds'], closedBeforeMs: midnight, newFromMs: midnight - 30 * DAY },
      { metrics: ['api.calls', 'gpu.seconds'], closedBeforeMs: now() + DAY, newFromMs: now() + DAY },
      { metrics: ['api.calls', 'gpu.seconds'], closedBeforeMs: now() + DAY, newFromMs: now() + DAY, ...withMoved(moved.slice(0, 1), 0) },
      { metrics: ['api.calls', 'gpu.seconds'], closedBeforeMs: now() + DAY, newFromMs: now() + DAY, ...withMoved(moved, midnight - 30 * DAY) },
      { metrics: ['api.calls', 'gpu.seconds'], closedBeforeMs: midnight, newFromMs: midnight - 5 * DAY, ...withMoved(moved, midnight - 60 * DAY) },
    ];
    for (const c of cases) {
      const got = await touchedDays(db, { tenantId, cutoffMs, sinceMs, ...c });
      const want = expected(c.metrics, c.closedBeforeMs, c.newFromMs, 'moved' in c ? c.moved.customerIds : [], 'moved' in c ? c.moved.fromMs : undefined);
      expect(want.length, JSON.stringify(c)).toBeGreaterThan(0);
      expect(got, JSON.stringify(c)).toEqual(want);
    }
    // the edge events: the first millisecond of a UTC day and the last of the day before are two days
    const gpu = (await touchedDays(db, { tenantId: t.tenantId, cutoffMs, sinceMs, ...cases[1]! })).find((c) => c.customerId === 'c-default')!;
    expect(gpu.dayMs).toEqual(expect.arrayContaining([midnight, midnight - DAY]));
    // a cutoff before the later rows: none of them is seen, so no day is flagged
    const atSince = await touchedDays(db, { tenantId: t.tenantId, cutoffMs: sinceMs, sinceMs, ...cases[0]! });
    expect(atSince.flatMap((c) => c.changed)).not.toContain(true);
    expect(atSince.length).toBeGreaterThan(0);
  });
});
