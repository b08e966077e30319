import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { closeEngine, engine, newTenant } from './harness.js';
import { migrate } from '../sql/migrations.js';
import { insertRows, runQuery, type Db } from '../sql/query.js';
import { TABLES } from '../sql/names.js';
import { DAY_MS, doOpsWork, startOpsEngine, type OpsWork } from './ops-fixture.js';
import { now } from './clock.js';

/** GET /v1/reconciliation over a tenant that used both ingest paths, with a redelivery, a dead letter, a closed period and a late event. */
let base: Awaited<ReturnType<typeof startOpsEngine>>;
let w: OpsWork;

beforeAll(async () => {
  base = await startOpsEngine();
  w = await doOpsWork(base);
}, 120_000);

afterAll(async () => {
  await base?.stop();
  await closeEngine(); // the consumers stop before their broker does
  await base?.broker.stop();
}, 60_000);

const dayOf = (ms: number) => new Date(ms).toISOString().slice(0, 10);
const startOfDay = (ms: number) => ms - (ms % DAY_MS);

async function report(t = w.tenant) {
  const res = await t.json('GET', `/v1/reconciliation?from=${startOfDay(w.closedMs)}&to=${startOfDay(now()) + DAY_MS}`);
  expect(res.status).toBe(200);
  return res.body as { ok: boolean; days: any[] };
}
const entry = (r: { days: any[] }, ms: number) => r.days.find((d) => d.day === dayOf(ms) && d.metricName === 'api.calls');
const checks = (d: any) => d.differences.map((x: any) => [x.check, x.expected, x.actual]);

describe('reconciliation report', () => {
  it('counts each path, the collapsed duplicates, the dead letter and the rollup, and flags the unreconciled rollup and the dead letter', async () => {
    const r = await report();
    expect(r.ok).toBe(false);
    const recent = entry(r, w.recentMs);
    expect(recent).toMatchObject({
      received: { api: 10, kafka: 7, unknown: 0 },
      duplicatesCollapsed: 2,
      corrections: 0,
      stored: 15,
      exports: { inClosedPeriods: 0, inExports: 0 },
    });
    // The redeliveries reached the rollup views: 17 until the reconciler rewrites the window.
    expect(recent.inRollups).toBe(17);
    expect(checks(recent)).toContainEqual(['rollups', 15, 17]);
    const dead = r.days.filter((d) => d.deadLettered > 0);
    expect(dead.map((d) => [d.metricName, d.deadLettered, checks(d).find((c: unknown[]) => c[0] === 'dead_letters')])).toEqual([
      ['api.calls', 1, ['dead_letters', 0, 1]],
    ]);
    expect(entry(r, w.closedMs)).toMatchObject({ received: { api: 4, kafka: 0, unknown: 0 }, stored: 4, inRollups: 4, differences: [] });
  });

  it("agrees once the jobs ran, flags an event stored after its period's export, and agrees again after the adjustment", async () => {
    await w.runJob('rollups.reconcile');
    await w.runJob('billing.close');
    let r = await report();
    expect(entry(r, w.recentMs).inRollups).toBe(15);
    expect(checks(entry(r, w.recentMs)).filter((c: unknown[]) => c[0] !== 'dead_letters')).toEqual([]);
    expect(entry(r, w.closedMs)).toMatchObject({ exports: { inClosedPeriods: 4, inExports: 4 }, differences: [] });

    expect((await w.directPost([{ eventId: 'late', customerId: 'c1', metricName: 'api.calls', timestamp: w.closedMs, quantity: '1' }])).status).toBe(200);
    r = await report();
    const late = entry(r, w.closedMs);
    expect(late).toMatchObject({ stored: 5, inRollups: 5, exports: { inClosedPeriods: 5, inExports: 4 } });
    expect(checks(late)).toEqual([['exports', 5, 4]]);
    expect(late.differences[0].where).toContain('adjustment');

    await w.runJob('billing.close');
    expect(entry(await report(), w.closedMs)).toMatchObject({ exports: { inClosedPeriods: 5, inExports: 5 }, differences: [] });
  });

  it('shows a tenant only its own data, needs whole UTC days, and a bounded window', async () => {
    const other = await newTenant();
    expect((await report(other)).days).toEqual([]);
    const q = (from: number, to: number) => w.tenant.json('GET', `/v1/reconciliation?from=${from}&to=${to}`);
    const day = startOfDay(now());
    expect((await q(day + 1, day + DAY_MS)).body.error.message).toMatch(/starts of UTC days/);
    expect((await q(day - 94 * DAY_MS, day)).status).toBe(400);
    const { secret } = await (await engine()).deps.access.keys.create(w.tenant.tenantId, 'reader', ['usage:read']);
    expect((await w.tenant.json('GET', `/v1/reconciliation?from=${day}&to=${day + DAY_MS}`, { key: secret })).status).toBe(403);
  });
});

describe('migration 20 on a database with events logged before it', () => {
  it('marks their path unknown (-2) and records the path of every row stored after it', async () => {
    const { client } = (await engine()).deps.db;
    const db: Db = { client, database: `path_${randomUUID().slice(0, 8)}` };
    await migrate(db, { upTo: 14 });
    const row = (eventId: string) => ({
      tenant_id: 't',
      event_id: eventId,
      customer_id: 'c',
      metric_name: 'm',
      timestamp: now(),
      quantity: '1',
      dimensions: {},
      ingested_at: now(),
    });
    await insertRows(db, 'test.before', TABLES.usageEvents, [row('before')]);
    // Migrations between 14 and 20 (other datasets) are applied on the way; 20 is the last.
    expect((await migrate(db, { upTo: 20 })).at(-1)).toBe(20);
    await insertRows(db, 'test.after', TABLES.usageEvents, [row('after')]);
    await insertRows(db, 'test.after_kafka', TABLES.usageEvents, [{ ...row('from-kafka'), kafka_topic: 'usage_events', kafka_partition: 3, kafka_offset: 7 }]);
    const paths = await runQuery(
      db,
      'test.paths',
      `SELECT event_id AS id, kafka_partition AS p FROM ${db.database}.${TABLES.usageEventLog} ORDER BY id`,
      {},
      z.object({ id: z.string(), p: z.coerce.number() }),
    );
    expect(paths).toEqual([
      { id: 'after', p: -1 },
      { id: 'before', p: -2 },
      { id: 'from-kafka', p: 3 },
    ]);
  });
});
