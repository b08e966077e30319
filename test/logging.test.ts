import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { WebhookDispatcher } from '../jobs/billing/webhooks.js';
import { waitFor } from './wait.js';
import { createApp } from '../api/app.js';
import { TABLES } from '../sql/names.js';
import { insertRows } from '../sql/query.js';
import { runJob } from '../jobs/scheduler.js';
import { capturedLogger, LEVEL } from './captured-logger.js';
import { engine, newTenant } from './harness.js';

/** What an operator reads at info: work done by jobs, real requests; not the probes that pass every few seconds. */
const DAY = 86_400_000;
const settings = { BILLING_CUTOFF_LAG_MS: '0' };

describe('logs at info', () => {
  it('every request except passing health probes, which go to debug', async () => {
    const r = await engine(settings);
    const log = capturedLogger();
    const app = createApp({ ...r.deps, logger: log.logger });
    expect((await app.request('/healthz')).status).toBe(200);
    expect((await app.request('/readyz')).status).toBe(200);
    expect((await app.request('/v1/usage/summary')).status).toBe(401);
    const requests = log.lines.filter((l) => l.msg === 'request').map((l) => [l.path, l.level]);
    expect(requests).toEqual([
      ['/healthz', LEVEL.debug],
      ['/readyz', LEVEL.debug],
      ['/v1/usage/summary', LEVEL.info],
    ]);
  });

  it('a reconciliation that rewrote windows, and nothing for one that found all exact', async () => {
    const r = await engine(settings);
    const t = await newTenant();
    const job = r.jobs.find((j) => j.name === 'rollups.reconcile')!;
    const T = Date.now() - 3 * 3_600_000;
    const e = { eventId: 'log-1', customerId: 'c', metricName: 'log.test', timestamp: T, quantity: '2' };
    expect((await t.json('POST', '/v1/events', { body: [e] })).status).toBe(200);
    // a redelivery past the writer (as from Kafka): the rollup counts it twice until reconciled
    await insertRows(r.deps.db, 'test.redeliver', TABLES.usageEvents, [
      {
        tenant_id: t.tenantId,
        event_id: e.eventId,
        customer_id: e.customerId,
        metric_name: e.metricName,
        timestamp: T,
        quantity: e.quantity,
        dimensions: {},
        ingested_at: T,
      },
    ]);
    const log = capturedLogger();
    await runJob(job, log.logger);
    expect(log.at(LEVEL.info)).toEqual([expect.objectContaining({ job: 'rollups.reconcile', msg: 'job did work', windowsRewritten: expect.any(Number) })]);
    expect(log.at(LEVEL.info)[0]!.windowsRewritten).toBeGreaterThanOrEqual(1);

    const again = capturedLogger();
    await runJob(job, again.logger);
    expect(again.at(LEVEL.info)).toEqual([]);
    expect(again.at(LEVEL.debug)).toEqual([expect.objectContaining({ job: 'rollups.reconcile', msg: 'job done: nothing to do' })]);
  });

  it('a close that wrote an export (which, not what it holds), and nothing for one that closed nothing', async () => {
    const r = await engine(settings);
    const t = await newTenant();
    const job = r.jobs.find((j) => j.name === 'billing.close')!;
    expect((await t.json('POST', '/v1/meters', { body: { key: 'logged', metricName: 'log.close', aggregation: 'SUM' } })).status).toBe(201);
    // 40 days back lies in a month that ended at least 9 days ago: past the default grace of one day
    const e = { eventId: 'close-1', customerId: 'c', metricName: 'log.close', timestamp: Date.now() - 40 * DAY, quantity: '7' };
    expect((await t.json('POST', '/v1/events', { body: [e] })).status).toBe(200);
    const log = capturedLogger();
    await runJob(job, log.logger);
    const [line] = log.at(LEVEL.info);
    expect(line).toMatchObject({ job: 'billing.close', msg: 'job did work' });
    expect(line!.exportsWritten).toEqual(expect.arrayContaining([{ tenantId: t.tenantId, sequence: 1, lineCount: 1 }]));
    expect(JSON.stringify(line)).not.toContain('"7"'); // counts of lines, never amounts

    const again = capturedLogger();
    await runJob(job, again.logger);
    expect(again.at(LEVEL.info)).toEqual([]);
  });

  it('a webhook delivery (which export, after how many attempts), never its body or secret', async () => {
    const r = await engine(settings);
    const t = await newTenant();
    const received: string[] = [];
    const server = createServer((req, res) => {
      req.on('data', (b: Buffer) => received.push(b.toString()));
      req.on('end', () => res.writeHead(204).end());
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const secret = 'webhook-secret-for-logging-0123';
    expect((await t.json('PUT', '/v1/webhooks', { body: { url: `http://127.0.0.1:${port}/hook`, secret } })).status).toBe(200);
    expect((await t.json('POST', '/v1/meters', { body: { key: 'hooked', metricName: 'log.hook', aggregation: 'SUM' } })).status).toBe(201);
    const e = { eventId: 'hook-1', customerId: 'c', metricName: 'log.hook', timestamp: Date.now() - 40 * DAY, quantity: '3' };
    expect((await t.json('POST', '/v1/events', { body: [e] })).status).toBe(200);
    await r.deps.closer.run(t.tenantId);
    const log = capturedLogger();
    const dispatcher = new WebhookDispatcher(r.deps.db, { pollMs: 20, backoffMs: 50, backoffMaxMs: 100, timeoutMs: 2000 }, log.logger);
    dispatcher.start();
    try {
      await waitFor(
        'the delivery line',
        () => log.at(LEVEL.info).some((l) => l.tenantId === t.tenantId),
        10_000,
        () => log.lines,
      );
    } finally {
      await dispatcher.stop();
      server.close();
    }
    expect(log.at(LEVEL.info).filter((l) => l.tenantId === t.tenantId)).toEqual([
      expect.objectContaining({ job: 'billing.webhooks', msg: 'webhook delivered', sequence: 1, attempts: 1 }),
    ]);
    expect(received.length).toBeGreaterThan(0);
    expect(JSON.stringify(log.lines)).not.toContain(secret);
  });
});
