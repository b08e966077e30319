import { describe, expect, it } from 'vitest';
import { now, testClock } from './clock.js';
import { ALL_TIME, newTenant } from './harness.js';

const ev = (eventId: string, extra: Record<string, unknown> = {}) => ({ eventId, customerId: 'c1', metricName: 'api.calls', ...extra });

describe('exactly once, immediately', () => {
  it('counts an event once when it is sent again later, and the first payload wins', async () => {
    const t = await newTenant();
    await t.json('POST', '/v1/events', { body: ev('once', { quantity: '5' }) });
    const again = await t.json('POST', '/v1/events', { body: ev('once', { quantity: '500' }) });
    expect(again.status).toBe(200);
    expect(again.body.results).toEqual([{ index: 0, eventId: 'once', status: 'duplicate' }]);
    // read straight away: no merge has run, FINAL + the writer's lookup keep it exact
    const summary = await t.json('GET', `/v1/usage/summary?${ALL_TIME}`);
    expect(summary.body.data).toEqual([{ customerId: 'c1', metricName: 'api.calls', quantity: '5', events: 1 }]);
  });

  it('counts once when many clients send overlapping events at the same moment', async () => {
    const t = await newTenant();
    const ids = Array.from({ length: 200 }, (_, i) => `conc-${i}`);
    // 12 clients, each sends every id (in its own order) with quantity 1
    const clients = Array.from({ length: 12 }, (_, c) => {
      const mine = c % 2 === 0 ? ids : [...ids].reverse();
      return t.json('POST', '/v1/events', { body: mine.map((id) => ev(id)) });
    });
    const answers = await Promise.all(clients);
    const acceptedBy = new Map<string, number>();
    for (const a of answers) {
      expect(a.status, JSON.stringify(a.body).slice(0, 300)).toBe(200);
      for (const r of a.body.results) if (r.status === 'accepted') acceptedBy.set(r.eventId, (acceptedBy.get(r.eventId) ?? 0) + 1);
    }
    // every id accepted by exactly one client, duplicate for the other eleven
    expect(acceptedBy.size).toBe(200);
    expect([...acceptedBy.values()].every((n) => n === 1)).toBe(true);
    const total = answers.reduce((n, a) => n + a.body.duplicates, 0);
    expect(total).toBe(200 * 11);
    const summary = await t.json('GET', `/v1/usage/summary?${ALL_TIME}`);
    expect(summary.body.data).toEqual([{ customerId: 'c1', metricName: 'api.calls', quantity: '200', events: 200 }]);
  });

  it('treats the same eventId in two tenants as two events', async () => {
    const a = await newTenant();
    const b = await newTenant();
    expect((await a.json('POST', '/v1/events', { body: ev('shared-id') })).body.accepted).toBe(1);
    expect((await b.json('POST', '/v1/events', { body: ev('shared-id') })).body.accepted).toBe(1);
  });
});

describe('exact decimals', () => {
  it('sums 0.1 + 0.2 to "0.3", keeps 9 fraction digits and large values exact', async () => {
    const t = await newTenant();
    await t.json('POST', '/v1/events', {
      body: [
        ev('d1', { quantity: 0.1 }),
        ev('d2', { quantity: '0.2' }),
        ev('d3', { customerId: 'c2', quantity: '0.000000001' }),
        ev('d4', { customerId: 'c2', quantity: '0.000000002' }),
        ev('d5', { customerId: 'c3', quantity: '12345678901234567890.123456789' }),
        ev('d6', { customerId: 'c3', quantity: '1' }),
      ],
    });
    const { body } = await t.json('GET', `/v1/usage/summary?${ALL_TIME}`);
    expect(body.data).toEqual([
      { customerId: 'c1', metricName: 'api.calls', quantity: '0.3', events: 2 },
      { customerId: 'c2', metricName: 'api.calls', quantity: '0.000000003', events: 2 },
      { customerId: 'c3', metricName: 'api.calls', quantity: '12345678901234567891.123456789', events: 2 },
    ]);
    const listed = await t.json('GET', '/v1/events?customerId=c3');
    expect(listed.body.data.map((e: any) => e.quantity).sort()).toEqual(['1', '12345678901234567890.123456789']);
  });

  it('refuses a float that cannot be stored exactly instead of rounding it', async () => {
    const t = await newTenant();
    const res = await t.json('POST', '/v1/events', { body: ev('f', { quantity: 0.1 + 0.2 }) });
    expect(res.status).toBe(422);
    expect(res.body.results[0].errors[0]).toEqual({ path: 'quantity', message: expect.stringMatching(/fraction digits/) });
  });
});

describe('timestamps and windows', () => {
  it('stores epoch ms, RFC 3339 and the default receive time; backfill is accepted', async () => {
    const t = await newTenant();
    const before = now();
    await t.json('POST', '/v1/events', {
      body: [
        ev('t1', { timestamp: 1_700_000_000_123 }),
        ev('t2', { timestamp: '2026-03-29T02:30:00.250+02:00' }),
        ev('t3'),
        ev('t4', { timestamp: '1999-12-31T23:59:59Z' }),
      ],
    });
    const { body } = await t.json('GET', '/v1/events?limit=10');
    const byId = Object.fromEntries(body.data.map((e: any) => [e.eventId, e]));
    expect(byId.t1.timestamp).toBe('2023-11-14T22:13:20.123Z');
    expect(byId.t2.timestamp).toBe('2026-03-29T00:30:00.250Z');
    expect(byId.t4.timestamp).toBe('1999-12-31T23:59:59.000Z');
    const t3 = Date.parse(byId.t3.timestamp);
    expect(t3).toBeGreaterThanOrEqual(before);
    expect(t3).toBe(Date.parse(byId.t3.ingestedAt));
    // stored_at is the engine's clock, which stands testClock.offsetMs behind the product's
    expect(Date.parse(byId.t3.storedAt) + testClock.offsetMs).toBeGreaterThanOrEqual(t3);
  });

  it('rejects events beyond the future skew and accepts them within it', async () => {
    const t = await newTenant();
    const res = await t.json('POST', '/v1/events', { body: [ev('s1', { timestamp: now() + 60_000 }), ev('s2', { timestamp: now() + 600_000 })] });
    expect(res.status).toBe(207);
    expect(res.body.results.map((r: any) => r.status)).toEqual(['accepted', 'rejected']);
  });

  it('uses half-open windows [from, to)', async () => {
    const t = await newTenant();
    const T = Date.UTC(2026, 5, 1);
    await t.json('POST', '/v1/events', {
      body: [ev('w1', { timestamp: T - 1 }), ev('w2', { timestamp: T }), ev('w3', { timestamp: T + 999 }), ev('w4', { timestamp: T + 1000 })],
    });
    const window = await t.json('GET', `/v1/usage/summary?from=${T}&to=${T + 1000}`);
    expect(window.body.data).toEqual([{ customerId: 'c1', metricName: 'api.calls', quantity: '2', events: 2 }]);
    const rfc = await t.json('GET', `/v1/usage/summary?from=2026-06-01T02:00:00%2B02:00&to=2026-06-01T00:00:01Z`);
    expect(rfc.body.data[0].events).toBe(2);
    expect((await t.json('GET', `/v1/usage/summary?from=${T}&to=${T}`)).status).toBe(400);
    expect((await t.json('GET', `/v1/usage/summary?from=yesterday&to=${T}`)).status).toBe(400);
    expect((await t.json('GET', `/v1/usage/summary?to=${T}`)).status).toBe(400);
  });
});
