import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { now } from './clock.js';
import { engine, newTenant, type TestTenant } from './harness.js';
import { waitFor } from './wait.js';
import { periodOf } from '../jobs/billing/periods.js';
import { insertRows } from '../sql/query.js';
import { TABLES } from '../sql/names.js';
import {
  SumOracle,
  acknowledgedCount,
  createRule,
  crossings,
  reachedThresholds,
  sendEvents,
  startReceiver,
  useReceiver,
  type Receiver,
} from './alerts-fixture.js';

/**
 * Usage alerts on the direct ingest path, against an oracle computed from the
 * events sent: crossings fire from the flush hook (no sweep runs on its own
 * here: ALERTS_SWEEP_CRON is yearly, POST /v1/alerts/evaluate is the sweep),
 * once each, in order, on exact values only.
 */
let receiver: Receiver;
const MINUTE = 60_000;
const CYCLE = { timezone: 'UTC', interval: 'month' as const, anchorDay: 1 };

beforeAll(async () => {
  receiver = await startReceiver();
  const r = await engine({
    ALERTS_SWEEP_CRON: '0 0 1 1 *',
    BILLING_CLOSE_CRON: '0 0 1 1 *',
    ROLLUP_RECONCILE_CRON: '0 0 1 1 *', // rollups stay unreconciled: a duplicate that reaches them stays visible there
    BILLING_WEBHOOK_POLL_MS: '20',
    BILLING_WEBHOOK_BACKOFF_MS: '50',
    WRITER_FLUSH_INTERVAL_MS: '5',
  });
  r.startJobs();
});
afterAll(() => receiver.close());

async function tenantWithMeter(): Promise<TestTenant> {
  const t = await newTenant();
  await useReceiver(t, receiver);
  expect((await t.json('POST', '/v1/meters', { body: { key: 'calls', metricName: 'api.calls', aggregation: 'SUM' } })).status).toBe(201);
  return t;
}

const ev = (eventId: string, quantity: string, customerId = 'c1', timestamp = now() - MINUTE) => ({
  eventId,
  customerId,
  metricName: 'api.calls',
  timestamp,
  quantity,
});
const evaluate = async (t: TestTenant) => (await t.json('POST', '/v1/alerts/evaluate')).body.crossings as number;

describe('usage alerts', () => {
  it('fires each threshold one batch crosses once, in order, on the deduplicated value; a duplicate that inflates a rollup never fires', async () => {
    const t = await tenantWithMeter();
    const thresholds = ['10', '20', '30'];
    const ruleId = await createRule(t, { meterKey: 'calls', thresholds, window: 'period' });
    const oracle = new SumOracle();
    // one batch: retries of e1 and e2 with other quantities (the first payload wins), crossing 10 and 20 but not 30
    const batch = [ev('e1', '9'), ev('e2', '8'), ev('e1', '100'), ev('e3', '7.5'), ev('e2', '50')];
    oracle.send(batch);
    await sendEvents(t, batch);
    const value = oracle.value('c1');
    expect(value).toBe('24.5');
    const acked = await acknowledgedCount(receiver, t.tenantId, 2);
    expect(acked.map((d) => d.alert.threshold)).toEqual(reachedThresholds(value, thresholds));
    expect(acked.every((d) => d.signatureValid && d.deliveryId === `alert/${d.alert.id}`)).toBe(true);
    const period = periodOf(now() - MINUTE, CYCLE);
    expect(acked[0]!.alert).toMatchObject({ ruleId, customerId: 'c1', value: '24.5', periodStart: new Date(period.startMs).toISOString() });

    // A redelivery of e3 stored as a second row (what a Kafka redelivery does before a merge): the rollup counts it, the alert must not.
    const db = (await engine()).deps.db;
    await insertRows(db, 'test.duplicate', TABLES.usageEvents, [
      {
        tenant_id: t.tenantId,
        event_id: 'e3',
        customer_id: 'c1',
        metric_name: 'api.calls',
        timestamp: now() - MINUTE,
        quantity: '7.5',
        dimensions: {},
        ingested_at: now(),
      },
    ]);
    const rollup = await db.client.query({
      query: `SELECT toString(sum(quantity_sum)) AS s FROM ${db.database}.${TABLES.usagePerMinute} WHERE tenant_id = {t:String}`,
      query_params: { t: t.tenantId },
      format: 'JSONEachRow',
    });
    expect(((await rollup.json()) as { s: string }[])[0]!.s).toBe('32'); // 24.5 + 7.5: past 30 in the rollup
    expect(await evaluate(t)).toBe(0);
    const listed = await crossings(t, `?ruleId=${ruleId}`);
    expect(listed.map((e) => e.threshold)).toEqual(['20', '10']); // newest first; 30 never fired
    await waitFor('deliveredAt on both', async () => (await crossings(t)).every((e) => e.deliveredAt !== null), 10_000);
  });

  it('fires recurring steps in order, each once, continuing where the value went', async () => {
    const t = await tenantWithMeter();
    await createRule(t, { meterKey: 'calls', every: '100', window: 'period' });
    const oracle = new SumOracle();
    const first = [ev('a', '120'), ev('b', '230')];
    oracle.send(first);
    await sendEvents(t, first);
    expect((await acknowledgedCount(receiver, t.tenantId, 3)).map((d) => d.alert.threshold)).toEqual(['100', '200', '300']);
    const second = [ev('c', '70.000000001')];
    oracle.send(second);
    await sendEvents(t, second);
    expect(oracle.value('c1')).toBe('420.000000001');
    expect((await acknowledgedCount(receiver, t.tenantId, 4)).map((d) => d.alert.threshold)).toEqual(['100', '200', '300', '400']);
    expect(await evaluate(t)).toBe(0);
  });

  it('voids and amendments: a value back below a threshold does not fire it again unless the rule re-arms; a falling rule fires on the drop', async () => {
    const t = await tenantWithMeter();
    const once = await createRule(t, { meterKey: 'calls', thresholds: ['50'], window: 'period' });
    const rearming = await createRule(t, { meterKey: 'calls', thresholds: ['50'], window: 'period', rearm: true });
    const falling = await createRule(t, { meterKey: 'calls', thresholds: ['50'], window: 'period', direction: 'falling' });
    const oracle = new SumOracle();
    const events = [ev('x', '30'), ev('y', '30')];
    oracle.send(events);
    await sendEvents(t, events);
    await acknowledgedCount(receiver, t.tenantId, 2);
    const fired = async (ruleId: string) => (await crossings(t, `?ruleId=${ruleId}`)).map((e) => e.value);
    expect(await fired(once)).toEqual(['60']);
    expect(await fired(rearming)).toEqual(['60']);
    expect(await fired(falling)).toEqual([]);

    expect((await t.json('POST', '/v1/events/y/void')).status).toBe(200);
    oracle.void('y');
    await evaluate(t);
    expect(await fired(falling)).toEqual([oracle.value('c1')]); // 30: dropped below 50
    expect((await t.json('POST', '/v1/events/x/amend', { body: { quantity: '75' } })).status).toBe(200);
    oracle.amend('x', '75');
    await evaluate(t);
    expect(await fired(once)).toEqual(['60']);
    expect(await fired(rearming)).toEqual(['75', '60']);
    expect(await fired(falling)).toEqual(['30']);
    await acknowledgedCount(receiver, t.tenantId, 4);
  });

  it('a late event into a closed period fires nothing for it; a lifetime rule counts it', async () => {
    const t = await tenantWithMeter();
    const periodRule = await createRule(t, { meterKey: 'calls', thresholds: ['10'], window: 'period' });
    const lifetimeRule = await createRule(t, { meterKey: 'calls', thresholds: ['10'], window: 'lifetime' });
    const late = [ev('old', '15', 'c1', now() - 40 * 86_400_000)];
    await sendEvents(t, late);
    await evaluate(t);
    expect(await crossings(t, `?ruleId=${periodRule}`)).toEqual([]);
    expect(await crossings(t, `?ruleId=${lifetimeRule}`)).toMatchObject([{ threshold: '10', value: '15', periodStart: null }]);
  });

  it('percentage thresholds of the allowance on the customer record', async () => {
    const t = await tenantWithMeter();
    expect((await t.json('PUT', '/v1/customers/c1', { body: { allowances: { calls: '200' } } })).body.allowances).toEqual({ calls: '200' });
    const ruleId = await createRule(t, { meterKey: 'calls', thresholds: ['50', '100'], unit: 'percent', customerId: 'c1', window: 'period' });
    await sendEvents(t, [ev('p1', '120'), ev('p2', '5', 'c2')]);
    const [d] = await acknowledgedCount(receiver, t.tenantId, 1);
    expect(d!.alert).toMatchObject({ ruleId, threshold: '50', thresholdValue: '100', value: '120', customerId: 'c1' });
    expect((await t.json('PUT', '/v1/customers/c1', { body: { name: 'Acme' } })).body.allowances).toEqual({ calls: '200' }); // kept when not given
  });
});

describe('alert rules API', () => {
  it('validates exactly, changes and deletes rules, and audits each change', async () => {
    const t = await tenantWithMeter();
    const bad = async (body: object) => await t.json('POST', '/v1/alerts/rules', { body });
    expect((await bad({ meterKey: 'calls', thresholds: ['10.0'], window: 'period' })).body.error.details[0].message).toBe('must be written canonically: "10"');
    expect((await bad({ meterKey: 'calls', thresholds: [], window: 'period' })).status).toBe(400);
    expect((await bad({ meterKey: 'calls', every: '5', direction: 'falling', window: 'period' })).status).toBe(400);
    expect((await bad({ meterKey: 'nope', thresholds: ['1'], window: 'period' })).body.error.details).toEqual([
      { path: 'meterKey', message: 'is not a meter of this tenant' },
    ]);
    const created = await t.json('POST', '/v1/alerts/rules', { body: { meterKey: 'calls', thresholds: ['100'], window: 'period', every: '50' } });
    expect(created.body).toMatchObject({
      meterKey: 'calls',
      customerId: null,
      thresholds: ['100'],
      unit: 'absolute',
      every: '50',
      direction: 'rising',
      rearm: false,
    });
    const id = created.body.id;
    const patched = await t.json('PATCH', `/v1/alerts/rules/${id}`, { body: { every: null, thresholds: ['100', '200'] } });
    expect(patched.body).toMatchObject({ id, thresholds: ['100', '200'], every: null });
    expect((await t.json('PATCH', `/v1/alerts/rules/${id}`, { body: { thresholds: [] } })).status).toBe(400);
    expect((await t.json('GET', `/v1/alerts/rules/${id}`)).body.thresholds).toEqual(['100', '200']);
    expect((await t.json('GET', '/v1/alerts/rules')).body.data.map((r: any) => r.id)).toEqual([id]);
    expect((await t.request('DELETE', `/v1/alerts/rules/${id}`)).status).toBe(204);
    expect((await t.json('GET', `/v1/alerts/rules/${id}`)).status).toBe(404);
    expect((await (await newTenant()).json('GET', `/v1/alerts/rules`)).body.data).toEqual([]);
    const audit = (await t.json('GET', '/v1/audit?limit=100')).body.data.filter((a: any) => a.target === id);
    expect(audit.map((a: any) => a.kind).sort()).toEqual(['alert_rule.created', 'alert_rule.deleted', 'alert_rule.updated']);
  });
});
