import { beforeAll, describe, expect, it } from 'vitest';
import { now } from './clock.js';
import { engine, newTenant, type TestTenant } from './harness.js';
import { z } from 'zod';
import { staleWindows } from '../sql/queries/reconcile.js';
import { runQuery } from '../sql/query.js';
import { TABLES } from '../sql/names.js';
import type { LoggedOp } from './billing-oracle.js';
import { GRACE_MS, clockPast, expectExportsMatchOracle, generateEvents, send, setUpTenant } from './billing-fixture.js';

beforeAll(async () => {
  await engine({ BILLING_CUTOFF_LAG_MS: '0', BILLING_GRACE_SECONDS: String(GRACE_MS / 1000) });
});

const HOUR = 3_600_000;
const DAY = 86_400_000;

describe('amend and void', () => {
  const H = Math.floor((now() - 5 * HOUR) / HOUR) * HOUR;
  const ev = (eventId: string, quantity: string, region = 'eu') => ({
    eventId,
    customerId: 'c1',
    metricName: 'fix.me',
    timestamp: H + 60_000,
    quantity,
    dimensions: { region },
  });
  let t: TestTenant;

  beforeAll(async () => {
    t = await newTenant();
    await t.json('POST', '/v1/events', { body: [ev('e1', '5'), ev('e2', '2'), ev('e3', '1.5'), ev('e4', '0.25', 'us')] });
    await t.json('POST', '/v1/meters', { body: { key: 'fix', metricName: 'fix.me', aggregation: 'SUM', groupBy: ['region'] } });
    await t.json('POST', '/v1/meters', { body: { key: 'fix-p99', metricName: 'fix.me', aggregation: 'P99', groupBy: ['region'] } });
  });

  const usage = async () => (await t.json('GET', `/v1/meters/fix/usage?from=${H}&to=${H + 2 * HOUR}&granularity=hour&groupBy=region`)).body;
  const summary = async () => (await t.json('GET', `/v1/usage/summary?from=${H}&to=${H + HOUR}`)).body.data;

  it('makes every number follow the latest version at once: summary, events, meters (rollups), reconciliation', async () => {
    const amended = await t.json('POST', '/v1/events/e1/amend', { body: { quantity: '8' } });
    expect(amended.status).toBe(200);
    expect(amended.body).toMatchObject({
      eventId: 'e1',
      change: 'amend',
      quantity: '8',
      dimensions: { region: 'eu' },
      changedBy: expect.stringMatching(/^key_/),
    });
    const voided = await t.json('POST', '/v1/events/e2/void');
    expect(voided.body).toMatchObject({ eventId: 'e2', change: 'void' });
    const moved = await t.json('POST', '/v1/events/e4/amend', { body: { dimensions: { region: 'eu', tier: 'pro' } } });
    expect(moved.body.dimensions).toEqual({ region: 'eu', tier: 'pro' });

    expect(await summary()).toEqual([{ customerId: 'c1', metricName: 'fix.me', quantity: '9.75', events: 3 }]);
    // One customer over raw events only (a window not aligned to hours)
    expect((await t.json('GET', `/v1/usage/summary?customerId=c1&from=${H}&to=${H + HOUR - 1}`)).body).toMatchObject({
      data: [{ customerId: 'c1', metricName: 'fix.me', quantity: '9.75', events: 3 }],
      meta: { source: 'usage_events' },
    });
    const listed = (await t.json('GET', `/v1/events?customerId=c1`)).body.data;
    expect(listed.map((e: any) => [e.eventId, e.quantity])).toEqual([
      ['e1', '8'],
      ['e3', '1.5'],
      ['e4', '0.25'],
    ]);
    const u = await usage();
    expect(u.meta.source).toBe('usage_per_hour');
    expect(u.data.filter((r: any) => r.windowStart === new Date(H).toISOString()).map((r: any) => [r.groupBy.region, r.value])).toEqual([['eu', '9.75']]);
    // Percentiles of one customer take the latest version too (e2 voided, e1 amended, e4 moved out of region us):
    // an hour from raw events, and a UTC day from the day tier's quantities, rewritten with the correction.
    const D = Math.floor(H / DAY) * DAY;
    for (const [range, source] of [
      [`from=${H}&to=${H + HOUR}&granularity=total`, 'usage_events'],
      [`from=${D}&to=${D + DAY}&granularity=day`, 'usage_per_day'],
    ]) {
      const p99 = async (filter: string) => (await t.json('GET', `/v1/meters/fix-p99/usage?${range}&customerId=c1${filter}`)).body;
      expect((await p99('')).meta.source).toBe(source);
      expect((await p99('')).data.map((r: any) => r.value)).toEqual(['8']);
      expect((await p99('&filter[region]=eu')).data.map((r: any) => r.value)).toEqual(['8']);
      expect((await p99('&filter[region]=us')).data.map((r: any) => r.value)).toEqual([null]);
    }
    const stale = (await staleWindows((await engine()).deps.db, { sinceMs: 0 })).filter((w) => w.tenantId === t.tenantId);
    expect(stale).toEqual([]);
  });

  it('keeps the history of every version for audit', async () => {
    const h1 = (await t.json('GET', '/v1/events/e1/history')).body.data;
    expect(h1.map((v: any) => [v.change, v.quantity])).toEqual([
      ['original', '5'],
      ['amend', '8'],
    ]);
    expect(h1[0].changedBy).toBeNull();
    expect(BigInt(h1[1].version)).toBeGreaterThan(1n);
    const h2 = (await t.json('GET', '/v1/events/e2/history')).body.data;
    expect(h2.map((v: any) => v.change)).toEqual(['original', 'void']);
    expect((await t.json('GET', '/v1/events/nope/history')).status).toBe(404);
    expect((await (await newTenant()).json('GET', '/v1/events/e1/history')).status).toBe(404);
  });

  it('refuses what it must: unknown, voided, invalid, not admin; a redelivery never revives a voided event', async () => {
    expect((await t.json('POST', '/v1/events/nope/void')).status).toBe(404);
    expect((await t.json('POST', '/v1/events/e2/amend', { body: { quantity: '1' } })).status).toBe(409);
    expect((await t.json('POST', '/v1/events/e2/void')).status).toBe(409);
    for (const body of [{}, { quantity: '-1' }, { quantity: 'abc' }, { quantity: '1', customerId: 'other' }, { dimensions: { k: 1 } }]) {
      const res = await t.json('POST', '/v1/events/e1/amend', { body });
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error.details.length).toBeGreaterThan(0);
    }
    const standard = (await t.json('POST', '/v1/api-keys', { body: { name: 'reader' } })).body.key;
    expect((await t.json('POST', '/v1/events/e1/void', { key: standard })).status).toBe(403);
    expect((await t.json('GET', '/v1/events/e1/history', { key: standard })).status).toBe(200);
    expect((await (await newTenant()).json('POST', '/v1/events/e1/void')).status).toBe(404);
    const again = await t.json('POST', '/v1/events', { body: [ev('e2', '2')] });
    expect(again.body.results[0].status).toBe('duplicate');
    expect((await summary())[0].quantity).toBe('9.75');
  });

  // The minute tier's TTL (14 days) drops such rows anyway; what the retention spares is computing them.
  it("rewrites an old event's hour and day rows; the minute tier, past its retention, holds none", async () => {
    const old = await newTenant();
    const hour = Math.floor((now() - 20 * DAY) / HOUR) * HOUR;
    expect((await old.json('POST', '/v1/events', { body: [{ ...ev('o1', '3'), timestamp: hour + 60_000 }] })).status).toBe(200);
    await old.json('POST', '/v1/meters', { body: { key: 'fix', metricName: 'fix.me', aggregation: 'SUM' } });
    expect((await old.json('POST', '/v1/events/o1/amend', { body: { quantity: '4' } })).status).toBe(200);
    for (const [granularity, to, source] of [
      ['hour', hour + HOUR, 'usage_per_hour'],
      ['day', Math.floor(hour / DAY) * DAY + DAY, 'usage_per_day'],
    ] as const) {
      const from = granularity === 'day' ? to - DAY : hour;
      const read = (await old.json('GET', `/v1/meters/fix/usage?from=${from}&to=${to}&granularity=${granularity}`)).body;
      expect(read.meta.source).toBe(source);
      expect(read.data.map((r: { value: string }) => r.value)).toEqual(['4']);
    }
    const { db } = (await engine()).deps;
    const minuteRows = await runQuery(
      db,
      'test.minute_rows',
      `SELECT count() AS n FROM ${db.database}.${TABLES.usagePerMinute} WHERE tenant_id = {tenantId:String}`,
      { tenantId: old.tenantId },
      z.object({ n: z.coerce.number() }),
    );
    expect(minuteRows).toEqual([{ n: 0 }]);
  });
});

describe('corrections of billed events', () => {
  let t: TestTenant;
  const log: LoggedOp[] = [];

  type Op = { void: string } | { amend: { eventId: string; quantity?: string; dimensions?: Record<string, string> } };
  /** Send corrections concurrently (as several admins would; they share one rollup rewrite) and log them. */
  async function correct(ops: Op[]) {
    const answers = await Promise.all(
      ops.map((op) =>
        'void' in op
          ? t.json('POST', `/v1/events/${op.void}/void`)
          : t.json('POST', `/v1/events/${op.amend.eventId}/amend`, { body: { quantity: op.amend.quantity, dimensions: op.amend.dimensions } }),
      ),
    );
    for (const res of answers) expect(res.status, JSON.stringify(res.body)).toBe(200);
    const doneAt = Date.now();
    for (const op of ops) log.push({ doneAt, ...op });
  }

  beforeAll(async () => {
    t = await newTenant();
    await setUpTenant(t);
    await send(t, log, generateEvents('b', 500, 31, now()));
  });

  it('exports amended values when the amendment came before the cutoff', async () => {
    const events = log.map((o) => o.event!);
    await correct(events.slice(0, 10).map((e) => ({ amend: { eventId: e.eventId, quantity: '42.5' } })));
    await correct(events.slice(10, 15).map((e) => ({ void: e.eventId })));
    await clockPast(log);
    expect((await t.json('POST', '/v1/billing/close')).body.data).toHaveLength(1);
    await expectExportsMatchOracle(t, log);
  });

  it('turns voids and amendments of exported events into adjustments; the first export is unchanged', async () => {
    const [first] = (await t.json('GET', '/v1/billing/exports')).body.data;
    const events = log.filter((o) => o.event).map((o) => o.event!);
    await correct(events.slice(20, 30).map((e) => ({ void: e.eventId })));
    await correct(events.slice(30, 40).map((e) => ({ amend: { eventId: e.eventId, quantity: '0.001', dimensions: { region: 'ap' } } })));
    // every event of one Berlin day: the period's value drops to nothing, whatever the aggregation
    const day = events.find((e) => e.customerId === 'c-berlin' && !events.slice(20, 30).includes(e))!;
    const sameDay = events.filter(
      (e) =>
        e.customerId === 'c-berlin' &&
        new Date(e.timestamp + 3_600_000).toISOString().slice(0, 10) === new Date(day.timestamp + 3_600_000).toISOString().slice(0, 10),
    );
    await correct(sameDay.filter((e) => !log.some((o) => o.void === e.eventId)).map((e) => ({ void: e.eventId })));
    await clockPast(log);
    expect((await t.json('POST', '/v1/billing/close')).body.data.map((e: any) => e.sequence)).toEqual([2]);
    const [again, second] = await expectExportsMatchOracle(t, log);
    expect(again!.checksum).toBe(first.checksum);
    expect(second!.lines.length).toBeGreaterThan(0);
    expect(second!.lines.every((l) => l.kind === 'adjustment')).toBe(true);
    expect(second!.lines.some((l) => l.value.startsWith('-'))).toBe(true);
  }, 120_000);
});
