import { expect } from 'vitest';
import { periodOf, type BillingCycle } from '../jobs/billing/periods.js';
import { now } from './clock.js';
import type { TestTenant } from './harness.js';
import { aggregate, type OracleEvent } from './oracle.js';

/**
 * Two customers billed monthly in two time zones, events on both sides of each
 * one's current period start (one at the very instant, one a millisecond
 * before), and duplicates sent again with other quantities (the first payload
 * wins). Everything is placed relative to the test clock's now(), so the
 * fixture holds at any instant (vitest.config.ts CALENDAR).
 */
export const CUSTOMERS = {
  acme: { timezone: 'Europe/Berlin', interval: 'month', anchorDay: 1 },
  globex: { timezone: 'America/New_York', interval: 'month', anchorDay: 1 },
} as const satisfies Record<string, BillingCycle>;
export type CustomerId = keyof typeof CUSTOMERS;

export const METERS = [
  { key: 'gpu-seconds', name: 'GPU seconds', metricName: 'gpu.seconds', aggregation: 'SUM', groupBy: ['region'] },
  { key: 'api-calls', name: 'API calls', metricName: 'api.calls', aggregation: 'COUNT', groupBy: ['endpoint'] },
] as const;

function rng(seed: number) {
  return () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
}

export interface PortalFixture {
  events: OracleEvent[];
  nowMs: number;
  /** The value a meter has for a customer over [fromMs, toMs), from the events sent (first payload per id). */
  oracle(customerId: CustomerId, meterKey: string, fromMs: number, toMs: number): string | number | null;
}

export async function portalFixture(t: TestTenant, perCustomer = 60): Promise<PortalFixture> {
  const nowMs = now();
  for (const m of METERS) expect((await t.json('POST', '/v1/meters', { body: m })).status).toBe(201);
  const r = rng(11);
  const events: OracleEvent[] = [];
  for (const [customerId, cycle] of Object.entries(CUSTOMERS)) {
    expect(
      (
        await t.json('PUT', `/v1/customers/${customerId}`, {
          body: { name: `${customerId} Inc.`, timezone: cycle.timezone, billingCycle: { interval: cycle.interval, anchorDay: cycle.anchorDay } },
        })
      ).status,
    ).toBe(201);
    const start = periodOf(nowMs, cycle).startMs;
    const previousStart = periodOf(start - 1, cycle).startMs;
    // Within the current period up to a minute ago (or half-way, in its first minutes), and across the previous period.
    const lastMs = Math.max(start, nowMs - 60_000);
    const times = [
      start,
      start - 1,
      ...Array.from({ length: perCustomer }, (_, i) =>
        i % 3 === 0 ? previousStart + Math.floor(r() * (start - previousStart)) : start + Math.floor(r() * (lastMs - start)),
      ),
    ];
    times.forEach((timestamp, i) => {
      const gpu = i % 2 === 0;
      const cents = Math.floor(r() * 1_000_000);
      events.push({
        eventId: `${customerId}-${i}`,
        customerId,
        metricName: gpu ? 'gpu.seconds' : 'api.calls',
        timestamp,
        // Up to 9 decimals with trailing digits that a float would lose.
        quantity: gpu ? `${Math.floor(cents / 1000)}.${String(cents % 1000).padStart(3, '0')}000001` : '1',
        dimensions: gpu ? { region: ['eu', 'us'][i % 4 === 0 ? 0 : 1]! } : { endpoint: ['/a', '/b', '/c'][i % 3]! },
      });
    });
  }
  const send = (list: OracleEvent[]) =>
    t.json('POST', '/v1/events', {
      body: list.map(({ eventId, customerId, metricName, timestamp, quantity, dimensions }) => ({
        eventId,
        customerId,
        metricName,
        timestamp,
        quantity,
        dimensions,
      })),
    });
  expect((await send(events)).body.accepted).toBe(events.length);
  // Redeliveries with other payloads: acknowledged as duplicates, counted once, as first sent.
  const again = events.filter((_, i) => i % 5 === 0).map((e) => ({ ...e, quantity: '999' }));
  expect((await send(again)).body.duplicates).toBe(again.length);
  return {
    events,
    nowMs,
    oracle(customerId, meterKey, fromMs, toMs) {
      const meter = METERS.find((m) => m.key === meterKey)!;
      const chosen = events.filter((e) => e.customerId === customerId && e.metricName === meter.metricName && e.timestamp >= fromMs && e.timestamp < toMs);
      return aggregate(meter.aggregation, chosen);
    },
  };
}

/** Issue a dashboard link through the API and return its token. */
export async function issueLink(
  t: TestTenant,
  body: { customerId: string; meters?: string[]; expiresInSeconds?: number },
): Promise<{ id: string; token: string; url: string; expiresAt: string }> {
  const res = await t.json('POST', '/v1/portal/tokens', { body });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body;
}
