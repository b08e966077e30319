import { beforeAll, describe, expect, it } from 'vitest';
import { now, testClock } from './clock.js';
import { engine, newTenant, type TestTenant } from './harness.js';
import { billingSettings } from '../api/runtime.js';
import { BillingCloser } from '../jobs/billing/close.js';
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
async function closerAt(closedBeforeMs: number) {
  const r = await engine();
  const base = billingSettings(r.deps.config, testClock);
  return new BillingCloser(r.deps.db, { settings: { ...base, clockOffsetMs: closedBeforeMs + base.graceMs - (await engineMs()) } });
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
      const t = await newTenant();
      const meter = await t.json('POST', '/v1/meters', { body: { key: 'calls', metricName: 'api.calls', aggregation: 'SUM' } });
      expect(meter.status, JSON.stringify(meter.body)).toBe(201);
      const at = new Date(now() - 45 * DAY);
      const monthStart = Date.UTC(at.getUTCFullYear(), at.getUTCMonth(), 1);
      const d = monthStart + 2 * DAY; // the 3rd: it and the three days after are in the same UTC month
      const events = [
        { eventId: 'm-1', customerId: 'c-move', timestamp: d + 6 * HOUR, quantity: '1.5' },
        { eventId: 'm-2', customerId: 'c-move', timestamp: d + DAY + 6 * HOUR, quantity: '2.25' },
        { eventId: 'm-3', customerId: 'c-move', timestamp: d + 3 * DAY + 6 * HOUR, quantity: '4' },
        { eventId: 'o-1', customerId: 'c-other', timestamp: monthStart - DAY, quantity: '7' },
      ].map((e) => ({ ...e, metricName: 'api.calls', dimensions: {} }));
      const sent = await t.json('POST', '/v1/events', { body: events });
      expect(sent.status, JSON.stringify(sent.body)).toBe(200);
      const storedBy = await engineMs();
      while ((await engineMs()) <= storedBy) await new Promise((resolve) => setTimeout(resolve, 1));

      // Run 1 closes by the 6th 12:00 UTC: c-other's previous month; c-move's month is open.
      const first = await (await closerAt(d + 3 * DAY + 12 * HOUR)).run(t.tenantId);
      expect(first.exports.map((e) => e.sequence)).toEqual([1]);
      expect(await linesOf(t, first.exports[0]!.id)).toEqual([
        {
          customerId: 'c-other',
          meterKey: 'calls',
          periodStart: iso(Date.UTC(at.getUTCFullYear(), at.getUTCMonth() - 1, 1)),
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
      const waitUntil = (await engineMs()) + 2000;
      while ((await engineMs()) < waitUntil) await new Promise((resolve) => setTimeout(resolve, 50));
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
    const t = await newTenant();
    const meter = await t.json('POST', '/v1/meters', { body: { key: 'calls', metricName: 'api.calls', aggregation: 'SUM' } });
    expect(meter.status, JSON.stringify(meter.body)).toBe(201);
    const at = new Date(now() - 45 * DAY);
    const monthStart = Date.UTC(at.getUTCFullYear(), at.getUTCMonth(), 1);
    const d = monthStart + 2 * DAY;
    const events = [
      { eventId: 'r-1', customerId: 'c-race', timestamp: monthStart - 2 * DAY + 6 * HOUR, quantity: '3' },
      { eventId: 'r-2', customerId: 'c-race', timestamp: d + 6 * HOUR, quantity: '1' },
    ].map((e) => ({ ...e, metricName: 'api.calls', dimensions: {} }));
    expect((await t.json('POST', '/v1/events', { body: events })).status).toBe(200);
    const storedBy = await engineMs();
    while ((await engineMs()) <= storedBy) await new Promise((resolve) => setTimeout(resolve, 1));
    const first = await (await closerAt(d + 3 * DAY + 12 * HOUR)).run(t.tenantId);
    expect((await linesOf(t, first.exports[0]!.id)).map((l) => [l.customerId, l.kind, l.value])).toEqual([['c-race', 'usage', '3']]);
    // The API checked for exports before the run wrote them, and saved the move after: what a race leaves behind.
    const { db } = (await engine()).deps;
    const record = { customerId: 'c-race', name: '', timezone: 'UTC', interval: 'day' as const, anchorDay: 1, allowances: {} };
    await saveCustomer(db, t.tenantId, { ...record, cycleMovedAtMs: Date.now() }, Date.now());
    // Read as a move, the run would bill the day of the 3 (exported in its month) and the day of the 1 again.
    expect((await (await closerAt(d + 3 * DAY + 12 * HOUR + 60_000)).run(t.tenantId)).exports).toEqual([]);
  });
});

describe('when a record moved (cycle_moved_at)', () => {
  it('is set when the time zone or cycle changes from what the customer was billed in, and kept by any other change', async () => {
    const t = await newTenant();
    const { db } = (await engine()).deps;
    const movedAt = async (customerId: string) => (await customerById(db, { tenantId: t.tenantId, customerId }))[0]!.cycleMovedAtMs;
    const put = async (customerId: string, body: object) => {
      const res = await t.json('PUT', `/v1/customers/${customerId}`, { body });
      expect(res.status, JSON.stringify(res.body)).toBeLessThan(300);
    };
    const before = Date.now();
    await put('c-same', { name: 'Same' }); // the tenant default cycle: no move
    expect(await movedAt('c-same')).toBe(0);
    await put('c-same', { timezone: 'UTC', billingCycle: { interval: 'month', anchorDay: 1 } }); // the same cycle, spelled out
    expect(await movedAt('c-same')).toBe(0);
    await put('c-same', { timezone: 'Europe/Paris' });
    const moved = await movedAt('c-same');
    expect(moved).toBeGreaterThanOrEqual(before);
    expect(moved).toBeLessThanOrEqual(Date.now());
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
