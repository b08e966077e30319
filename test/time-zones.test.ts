import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { IANAZone } from 'luxon';
import { engine, newTenant } from './harness.js';
import { runQuery } from '../sql/query.js';
import { TIME_ZONES } from '../api/usage/time-zones.js';
import { loadConfig } from '../api/config.js';

describe('time zones: exactly the names the engine knows', () => {
  it("the accepted list is the engine's system.time_zones that luxon resolves", async () => {
    const { db } = (await engine()).deps;
    const rows = await runQuery(db, 'test.time_zones', 'SELECT time_zone FROM system.time_zones', {}, z.object({ time_zone: z.string() }));
    const known = rows
      .map((r) => r.time_zone)
      .filter((tz) => IANAZone.isValidZone(tz))
      .sort();
    expect([...TIME_ZONES].sort()).toEqual(known);
  });

  it('refuses with 400 the names luxon takes and the engine does not (they failed with 503 at query time), on every route', async () => {
    const t = await newTenant();
    await t.json('POST', '/v1/meters', { body: { key: 'm', metricName: 'm', aggregation: 'SUM' } });
    const window = `from=${Date.now() - 86_400_000}&to=${Date.now()}`;
    for (const tz of ['utc', 'europe/berlin', 'US/Pacific-New', 'SystemV/AST4', 'Factory']) {
      const usage = await t.json('GET', `/v1/meters/m/usage?${window}&tz=${encodeURIComponent(tz)}`);
      expect(usage.status, tz).toBe(400);
      expect(usage.body.error.details[0].message).toMatch(/as the engine spells it/);
      expect((await t.json('PUT', '/v1/customers/x', { body: { timezone: tz } })).status, tz).toBe(400);
      expect(() => loadConfig({ BILLING_DEFAULT_TIMEZONE: tz })).toThrow(/BILLING_DEFAULT_TIMEZONE/);
    }
    expect((await t.json('GET', '/v1/customers')).body.data).toEqual([]);
    for (const tz of ['UTC', 'Europe/Berlin', 'US/Pacific', 'Etc/GMT+5', 'Asia/Kolkata']) {
      expect((await t.json('GET', `/v1/meters/m/usage?${window}&tz=${encodeURIComponent(tz)}`)).status, tz).toBe(200);
    }
    expect((await t.json('PUT', '/v1/customers/x', { body: { timezone: 'Europe/Berlin' } })).status).toBe(201);
  });
});
