import { beforeAll, describe, expect, it } from 'vitest';
import { now, testClock } from './clock.js';
import { engine, newTenant, type TestTenant } from './harness.js';
import { billingSettings } from '../api/runtime-settings.js';
import { BillingCloser, type FaultStage } from '../jobs/billing/close.js';
import { saveCustomerRecord } from '../jobs/billing/cycle-moves.js';
import { defaultCycle } from '../api/config.js';
import { engineNow } from '../sql/queries/exports.js';
import { customerById, saveCustomer } from '../sql/queries/customers.js';
import { insertRows } from '../sql/query.js';
import { TABLES } from '../sql/names.js';
import { migrate } from '../sql/migrations.js';
import { databaseBefore, runMigrationAgain } from './upgrade.js';

const DAY = 86_400_000;
const HOUR = 3_600_000;
const GRACE_MS = HOUR;

beforeAll(async () => {
  await engine({ BILLING_CUTOFF_LAG_MS: '0', BILLING_GRACE_SECONDS: String(GRACE_MS / 1000) });
});

const engineMs = async () => (await engineNow((await engine()).deps.db, {}))[0]!.nowMs;

/** A closer whose runs close the periods ending by `closedBeforeMs` (plus the time since it was made): the product clock put there. */
async function closerAt(closedBeforeMs: number, fault?: (stage: FaultStage) => Promise<void>) {
  const r = await engine();
  const base = billingSettings(r.deps.config, testClock);
  return new BillingCloser(r.deps.db, { settings: { ...base, clockOffsetMs: closedBeforeMs + base.graceMs - (await engineMs()) }, ...(fault && { fault }) });
}

/** Wait until the engine's clock is past `ms` (so a cutoff taken then is after it). */
async function engineAfter(ms: number) {
  while ((await engineMs()) <= ms) await new Promise((resolve) => setTimeout(resolve, 10));
}

/**
 * A tenant with one billable meter and these events (customer, days from `monthStart`, quantity), stored before a
 * cutoff taken after this returns. `monthStart` is the first of the UTC month of 45 days ago.
 */
async function tenantWithEvents(events: { eventId: string; customerId: string; day: number; quantity: string }[]) {
  const t = await newTenant();
  const meter = await t.json('POST', '/v1/meters', { body: { key: 'calls', metricName: 'api.calls', aggregation: 'SUM' } });
  expect(meter.status, JSON.stringify(meter.body)).toBe(201);
  const at = new Date(now() - 45 * DAY);
  const monthStart = Date.UTC(at.getUTCFullYear(), at.getUTCMonth(), 1);
  const body = events.map(({ day, ...e }) => ({ ...e, timestamp: monthStart + day * DAY + 6 * HOUR, metricName: 'api.calls', dimensions: {} }));
  const sent = await t.json('POST', '/v1/events', { body });
  expect(sent.status, JSON.stringify(sent.body)).toBe(200);
  await engineAfter(await engineMs());
  return { t, monthStart, previousMonthStart: Date.UTC(at.getUTCFullYear(), at.getUTCMonth() - 1, 1) };
}

interface Line {
  customerId: string;
  meterKey: string;
  periodStart: string;
  periodEnd: string;
  kind: string;
  value: string;
  events: number;
}

async function linesOf(t: TestTenant, id: string): Promise<Line[]> {
  const res = await t.json('GET', `/v1/billing/exports/${id}`);
  expect(res.status).toBe(200);
  return (res.body.lines as Line[]).map(({ customerId, meterKey, periodStart, periodEnd, kind, value, events }) => ({
    customerId,
    meterKey,
    periodStart,
    periodEnd,
    kind,
    value,
    events,
  }));
}

const iso = (ms: number) => new Date(ms).toISOString();

describe('a customer whose billing cycle changes before it has exports', () => {
  // The customer bills in the tenant default (UTC months) and has events on the 3rd, 4th and 6th of a month that has
  // not closed. An export of another customer exists. Then its cycle becomes UTC days: the periods of its 3rd and 4th
  // had already ended and closed by the new cycle when the change was made, so no run would close them again.
  for (const variant of ['nothing else closes in the next run', 'a period of the new cycle also closes in the next run'] as const) {
    it(`has the periods its new cycle had already closed billed in the next export, once (${variant})`, async () => {
      const { t, monthStart, previousMonthStart } = await tenantWithEvents([
        { eventId: 'm-1', customerId: 'c-move', day: 2, quantity: '1.5' },
        { eventId: 'm-2', customerId: 'c-move', day: 3, quantity: '2.25' },
        { eventId: 'm-3', customerId: 'c-move', day: 5, quantity: '4' },
        { eventId: 'o-1', customerId: 'c-other', day: -1, quantity: '7' },
      ]);
      const d = monthStart + 2 * DAY; // the 3rd: it and the three days after are in the same UTC month

      // Run 1 closes by the 6th 12:00 UTC: c-other's previous month; c-move's month is open.
      const first = await (await closerAt(d + 3 * DAY + 12 * HOUR)).run(t.tenantId);
      expect(first.exports.map((e) => e.sequence)).toEqual([1]);
      expect(await linesOf(t, first.exports[0]!.id)).toEqual([
        {
          customerId: 'c-other',
          meterKey: 'calls',
          periodStart: iso(previousMonthStart),
          periodEnd: iso(monthStart),
          kind: 'usage',
          value: '7',
          events: 1,
        },
      ]);

      const put = await t.json('PUT', '/v1/customers/c-move', { body: { timezone: 'UTC', billingCycle: { interval: 'day' } } });
      expect(put.status, JSON.stringify(put.body)).toBe(201);
      // A run's previous closedBefore is the previous cutoff on this run's clock: the two runs are >= 2 s apart, so the
      // second variant's window holds the end of c-move's day of the 6th (the 7th, 00:00 UTC).
      const secondClosesBy = variant === 'nothing else closes in the next run' ? d + 3 * DAY + 12 * HOUR + 60_000 : d + 4 * DAY + 1000;
      await engineAfter((await engineMs()) + 2000);
      const second = await (await closerAt(secondClosesBy)).run(t.tenantId);
      expect(second.exports.map((e) => e.sequence)).toEqual([2]);
      const day = (start: number, kind: string, value: string) => ({
        customerId: 'c-move',
        meterKey: 'calls',
        periodStart: iso(start),
        periodEnd: iso(start + DAY),
        kind,
        value,
        events: 1,
      });
      const expected = [day(d, 'adjustment', '1.5'), day(d + DAY, 'adjustment', '2.25')];
      if (variant !== 'nothing else closes in the next run') expected.push(day(d + 3 * DAY, 'usage', '4'));
      expect(await linesOf(t, second.exports[0]!.id)).toEqual(expected);

      // Nothing is billed twice: the next runs (the change is still recent) find nothing new.
      expect((await (await closerAt(secondClosesBy + 60_000)).run(t.tenantId)).exports).toEqual([]);
      // Its exports now fix the cycle.
      const again = await t.json('PUT', '/v1/customers/c-move', { body: { billingCycle: { interval: 'week' } } });
      expect(again.status, JSON.stringify(again.body)).toBe(409);
    });
  }
});

describe('a move that raced a close run', () => {
  it('is not read as a move once the customer has exports: no period is billed in both cycles', async () => {
    const { t, monthStart } = await tenantWithEvents([
      { eventId: 'r-1', customerId: 'c-race', day: -2, quantity: '3' },
      { eventId: 'r-2', customerId: 'c-race', day: 2, quantity: '1' },
    ]);
    const d = monthStart + 2 * DAY;
    const first = await (await closerAt(d + 3 * DAY + 12 * HOUR)).run(t.tenantId);
    expect((await linesOf(t, first.exports[0]!.id)).map((l) => [l.customerId, l.kind, l.value])).toEqual([['c-race', 'usage', '3']]);
    // What a race would leave behind if the API did not undo such a move (below): lines of the old cycle, a moved record.
    const { db } = (await engine()).deps;
    const record = { customerId: 'c-race', name: '', timezone: 'UTC', interval: 'day' as const, anchorDay: 1, allowances: {} };
    await saveCustomer(db, t.tenantId, { ...record, cycleMovedAtMs: Date.now() }, Date.now());
    // Read as a move, the run would bill the day of the 3 (exported in its month) and the day of the 1 again.
    expect((await (await closerAt(d + 3 * DAY + 12 * HOUR + 60_000)).run(t.tenantId)).exports).toEqual([]);
  });
});

describe('a move saved while a close run bills the customer', () => {
  // c-move has events on the last two days of the previous month, which a run closes in its default cycle (UTC months).
  const events = [
    { eventId: 'w-1', customerId: 'c-move', day: -2, quantity: '2' },
    { eventId: 'w-2', customerId: 'c-move', day: -1, quantity: '3' },
    { eventId: 'w-3', customerId: 'c-other', day: -1, quantity: '7' },
  ];
  const daily = { customerId: 'c-move', name: '', timezone: 'UTC', interval: 'day' as const, anchorDay: 1, allowances: {} };
  const usageOf = (lines: Line[]) => lines.map((l) => [l.customerId, l.kind, l.periodStart, l.value]);

  for (const alone of [false, true]) {
    it(`after the run read the record: its lines of the old cycle are removed, and the next run bills the new cycle${alone ? ' (its export then has no line)' : ''}`, async () => {
      const { t, monthStart, previousMonthStart } = await tenantWithEvents(alone ? events.filter((e) => e.customerId === 'c-move') : events);
      const closesBy = monthStart + 3 * DAY + 12 * HOUR;
      // The API's move comes after the run computed its lines (in the old cycle) and claimed, before it writes them.
      let put: { status: number; body: unknown } | undefined;
      const fault = async (stage: FaultStage) => {
        if (stage === 'claimed' && !put) put = await t.json('PUT', '/v1/customers/c-move', { body: { billingCycle: { interval: 'day' } } });
      };
      const first = await (await closerAt(closesBy, fault)).run(t.tenantId);
      expect(put?.status, JSON.stringify(put?.body)).toBe(201);
      expect(usageOf(await linesOf(t, first.exports[0]!.id))).toEqual(alone ? [] : [['c-other', 'usage', iso(previousMonthStart), '7']]);
      expect(first.exports[0]!.lineCount).toBe(alone ? 0 : 1);
      await engineAfter((await engineMs()) + 2000);
      const second = await (await closerAt(closesBy + 60_000)).run(t.tenantId);
      expect(usageOf(await linesOf(t, second.exports[0]!.id))).toEqual([
        ['c-move', 'adjustment', iso(monthStart - 2 * DAY), '2'],
        ['c-move', 'adjustment', iso(monthStart - DAY), '3'],
      ]);
      expect((await (await closerAt(closesBy + 120_000)).run(t.tenantId)).exports).toEqual([]);
    });
  }

  it('before the API looked for its lines: the move is undone and refused, and the customer billed once in its old cycle', async () => {
    const { t, monthStart, previousMonthStart } = await tenantWithEvents(events);
    const { db, config } = (await engine()).deps;
    const closesBy = monthStart + 3 * DAY + 12 * HOUR;
    const tags = { tenantId: t.tenantId };
    // The run writes its export (c-move in its month) after the API found no lines and before it saved the move.
    let first: Awaited<ReturnType<BillingCloser['run']>> | undefined;
    const outcome = await saveCustomerRecord(db, t.tenantId, daily, undefined, defaultCycle(config), tags, async () => {
      first = await (await closerAt(closesBy)).run(t.tenantId);
    });
    expect(outcome).toEqual({ refused: 'billed-meanwhile' });
    const [record] = await customerById(db, { tenantId: t.tenantId, customerId: 'c-move' });
    expect(record).toMatchObject({ timezone: 'UTC', interval: 'month', anchorDay: 1 });
    expect(usageOf(await linesOf(t, first!.exports[0]!.id))).toEqual([
      ['c-move', 'usage', iso(previousMonthStart), '5'],
      ['c-other', 'usage', iso(previousMonthStart), '7'],
    ]);
    await engineAfter((await engineMs()) + 2000);
    expect((await (await closerAt(closesBy + 60_000)).run(t.tenantId)).exports).toEqual([]);
    // Over HTTP the same refusal is a 409 (the customer now has exports).
    const again = await t.json('PUT', '/v1/customers/c-move', { body: { billingCycle: { interval: 'day' } } });
    expect(again.status, JSON.stringify(again.body)).toBe(409);
  });

  it('with the lines written but the export not yet: the API undoes the move, the run removes the lines, a later run bills the old cycle', async () => {
    const { t, monthStart, previousMonthStart } = await tenantWithEvents(events);
    const { db, config } = (await engine()).deps;
    const closesBy = monthStart + 3 * DAY + 12 * HOUR;
    // The run stops after writing its lines until the API has saved and undone the move: each sees the other's write.
    let written!: () => void;
    const linesWritten = new Promise<void>((resolve) => (written = resolve));
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const fault = async (stage: FaultStage) => {
      if (stage !== 'lines-written') return;
      written();
      await released;
    };
    const run = (await closerAt(closesBy, fault)).run(t.tenantId);
    const outcome = await saveCustomerRecord(db, t.tenantId, daily, undefined, defaultCycle(config), { tenantId: t.tenantId }, () => linesWritten);
    expect(outcome).toEqual({ refused: 'billed-meanwhile' });
    release();
    const first = await run;
    expect(usageOf(await linesOf(t, first.exports[0]!.id))).toEqual([['c-other', 'usage', iso(previousMonthStart), '7']]);
    await engineAfter((await engineMs()) + 2000);
    const second = await (await closerAt(closesBy + 60_000)).run(t.tenantId);
    expect(usageOf(await linesOf(t, second.exports[0]!.id))).toEqual([['c-move', 'adjustment', iso(previousMonthStart), '5']]);
    expect((await (await closerAt(closesBy + 120_000)).run(t.tenantId)).exports).toEqual([]);
  });
});

describe('when a record moved (cycle_moved_at)', () => {
  it("is set (on the engine's clock) when the time zone or cycle changes from what the customer was billed in, and kept by any other change", async () => {
    const t = await newTenant();
    const { db } = (await engine()).deps;
    const movedAt = async (customerId: string) => (await customerById(db, { tenantId: t.tenantId, customerId }))[0]!.cycleMovedAtMs;
    const put = async (customerId: string, body: object) => {
      const res = await t.json('PUT', `/v1/customers/${customerId}`, { body });
      expect(res.status, JSON.stringify(res.body)).toBeLessThan(300);
    };
    const before = await engineMs();
    await put('c-same', { name: 'Same' }); // the tenant default cycle: no move
    expect(await movedAt('c-same')).toBe(0);
    await put('c-same', { timezone: 'UTC', billingCycle: { interval: 'month', anchorDay: 1 } }); // the same cycle, spelled out
    expect(await movedAt('c-same')).toBe(0);
    await put('c-same', { timezone: 'Europe/Paris' });
    const moved = await movedAt('c-same');
    expect(moved).toBeGreaterThanOrEqual(before);
    expect(moved).toBeLessThanOrEqual(await engineMs());
    await put('c-same', { name: 'Renamed', allowances: { calls: '10' } });
    expect(await movedAt('c-same')).toBe(moved);
    await put('c-new', { billingCycle: { interval: 'week', anchorDay: 3 } }); // a new record in another cycle moves
    expect(await movedAt('c-new')).toBeGreaterThanOrEqual(before);
  });
});

describe('migration 25 on an existing database', () => {
  it('adds when a record moved, as never for the records stored before it, and is idempotent', async () => {
    const db = await databaseBefore(25);
    const record = { tenant_id: 'up', customer_id: 'c', name: 'C', timezone: 'Asia/Tokyo', cycle_interval: 'week', anchor_day: 2 };
    await insertRows(db, 'test.old_customer', TABLES.billingCustomers, [{ ...record, created_at: 1, updated_at: 2, version: 1 }]);
    expect(await migrate(db, { upTo: 25 })).toEqual([25]);
    await runMigrationAgain(db, 25);
    const [read] = await customerById(db, { tenantId: 'up', customerId: 'c' });
    // 0 is the epoch: a close run never reads this customer as moved.
    expect(read).toMatchObject({ timezone: 'Asia/Tokyo', interval: 'week', anchorDay: 2, cycleMovedAtMs: 0 });
  });
});
