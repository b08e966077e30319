import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createLogger } from '../api/logger.js';
import { startRuntime, type Runtime } from '../api/runtime.js';
import { billingSettings } from '../api/runtime-settings.js';
import { AlertEvaluator } from '../alerts/service.js';
import { AlertDispatcher } from '../alerts/delivery.js';
import { TABLES } from '../sql/names.js';
import { now, testClock } from './clock.js';
import { waitFor } from './wait.js';
import { testConfig } from './harness.js';
import {
  SumOracle,
  acknowledgedCount,
  createRule,
  crossings,
  reachedThresholds,
  sendEvents,
  startReceiver,
  tenantOn,
  useReceiver,
  type Receiver,
} from './alerts-fixture.js';

/**
 * Delivery of crossings across failures: a restart between the crossing and
 * its delivery, a receiver that is down and comes back, and two instances
 * evaluating and delivering one outbox at once. The runtime is this file's own,
 * so it can be restarted on the same data directory.
 */
let receiver: Receiver;
let dataDir: string;
let runtime: Runtime | undefined;
const current = () => runtime!;
const ev = (eventId: string, quantity: string) => ({ eventId, customerId: 'c1', metricName: 'api.calls', timestamp: now() - 60_000, quantity });

async function open(): Promise<Runtime> {
  await runtime?.close();
  const config = testConfig(dataDir, {
    ALERTS_SWEEP_CRON: '0 0 1 1 *',
    BILLING_CLOSE_CRON: '0 0 1 1 *',
    BILLING_WEBHOOK_POLL_MS: '20',
    BILLING_WEBHOOK_BACKOFF_MS: '50',
    BILLING_WEBHOOK_BACKOFF_MAX_MS: '200',
    WRITER_FLUSH_INTERVAL_MS: '5',
  });
  runtime = await startRuntime(config, createLogger(config.LOG_LEVEL), { clock: testClock });
  return runtime;
}

beforeAll(async () => {
  receiver = await startReceiver();
  dataDir = await mkdtemp(join(tmpdir(), 'meterhouse-alerts-'));
  await open();
});

afterAll(async () => {
  await runtime?.close();
  await receiver.close();
  await rm(dataDir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
});

async function setUp(tenantId: string, rule: Record<string, unknown>) {
  const t = await tenantOn(current, tenantId);
  await useReceiver(t, receiver);
  expect((await t.json('POST', '/v1/meters', { body: { key: 'calls', metricName: 'api.calls', aggregation: 'SUM' } })).status).toBe(201);
  const ruleId = await createRule(t, { meterKey: 'calls', window: 'period', ...rule });
  return { t, ruleId };
}

it('a restart between the crossing and its delivery delivers it after the restart, once, under the same id', async () => {
  // Jobs not started: the crossing is written (by the sweep) but nothing delivers it before the process goes away.
  const { t } = await setUp('t_restart', { thresholds: ['5'] });
  await sendEvents(t, [ev('r1', '6')]);
  expect((await t.json('POST', '/v1/alerts/evaluate')).body.crossings).toBe(1);
  const [before] = await crossings(t);
  expect(before).toMatchObject({ threshold: '5', value: '6', deliveredAt: null });
  expect(receiver.deliveries.filter((d) => d.tenantId === t.tenantId)).toEqual([]);

  (await open()).startJobs();
  const [delivered] = await acknowledgedCount(receiver, t.tenantId, 1);
  expect(delivered!.alert.id).toBe(before.id);
  expect((await t.json('POST', '/v1/alerts/evaluate')).body.crossings).toBe(0);
  await waitFor('deliveredAt', async () => (await crossings(t))[0].deliveredAt !== null, 10_000);
  expect(await crossings(t)).toHaveLength(1);
});

it('a receiver that is down gets every crossing, in order, once it is back', async () => {
  const { t } = await setUp('t_down', { thresholds: ['1', '2', '3'] });
  let down = true;
  receiver.answer = (d) => (d.tenantId === t.tenantId && down ? 503 : 200);
  await sendEvents(t, [ev('d1', '2.5')]);
  await waitFor('three refused attempts', () => receiver.deliveries.filter((d) => d.tenantId === t.tenantId && d.status === 503).length >= 3, 20_000);
  // Order holds while it is down: only the first crossing is tried.
  expect(new Set(receiver.deliveries.filter((d) => d.tenantId === t.tenantId).map((d) => d.alert.threshold))).toEqual(new Set(['1']));
  down = false;
  expect((await acknowledgedCount(receiver, t.tenantId, 2)).map((d) => d.alert.threshold)).toEqual(['1', '2']);
  expect(await crossings(t)).toHaveLength(2);
  receiver.answer = () => 200;
});

it('two instances evaluating and delivering at once: each crossing is stored once, and delivered under one id the receiver dedupes on', async () => {
  const { t } = await setUp('t_two', { every: '10' });
  const r = current();
  const settings = { graceMs: r.deps.config.BILLING_GRACE_SECONDS * 1000, defaultCycle: billingSettings(r.deps.config, testClock).defaultCycle };
  const logger = createLogger('silent');
  const options = { pollMs: 20, backoffMs: 50, backoffMaxMs: 200, timeoutMs: 5000 };
  const instances = [0, 1].map(() => ({
    evaluator: new AlertEvaluator(r.deps.db, settings, testClock, logger),
    dispatcher: new AlertDispatcher(r.deps.db, options, logger),
  }));
  instances.forEach((i) => i.dispatcher.start());
  const oracle = new SumOracle();
  try {
    for (let round = 0; round < 5; round++) {
      const batch = [ev(`two-${round}-a`, '7'), ev(`two-${round}-b`, '8.5')];
      oracle.send(batch);
      await sendEvents(t, batch);
      // both instances (and this runtime's own flush hook) evaluate the same change at the same moment
      await Promise.all(instances.map((i) => i.evaluator.sweep(t.tenantId)));
    }
    const steps = Array.from({ length: 8 }, (_, k) => String((k + 1) * 10));
    const expected = reachedThresholds(oracle.value('c1'), steps);
    expect(expected).toHaveLength(7); // 77.5
    const acked = await acknowledgedCount(receiver, t.tenantId, expected.length);
    expect(acked.map((d) => d.alert.threshold)).toEqual(expected);
    const db = r.deps.db;
    const rows = await db.client.query({
      query: `SELECT event_id, count() AS n FROM ${db.database}.${TABLES.alertEvents} WHERE tenant_id = {t:String} GROUP BY event_id`,
      query_params: { t: t.tenantId },
      format: 'JSONEachRow',
    });
    const stored = (await rows.json()) as { event_id: string; n: number }[];
    expect(stored.map((s) => Number(s.n))).toEqual(expected.map(() => 1));
    // every attempt of one id carried the same crossing
    for (const d of receiver.deliveries.filter((x) => x.tenantId === t.tenantId))
      expect(d.alert).toEqual(acked.find((a) => a.deliveryId === d.deliveryId)!.alert);
  } finally {
    await Promise.all(instances.map((i) => i.dispatcher.stop()));
  }
});
