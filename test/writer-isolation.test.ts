import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { engine, newTenant, whileEngineRefuses, type TestTenant } from './harness.js';
import { createApp } from '../api/app.js';
import { DirectWriter } from '../ingest/writer.js';
import { existingEventIds } from '../sql/queries/events.js';

/**
 * One caller's event can never fail another caller's request. The poison here
 * is refused by the engine itself at insert time (a table constraint added for
 * the test), so validation cannot catch it: what keeps the neighbours safe is
 * the writer's isolation of refused rows.
 */
describe('a row the engine refuses fails no other request', () => {
  it('stores every valid event of concurrent requests of two tenants sharing a batch with a poison event, and refuses the poison for good', async () => {
    const r = await engine();
    const { db } = r.deps;
    const [a, b] = [await newTenant(), await newTenant()];
    const poison = `poison-${randomUUID().replace(/-/g, '')}`;
    await whileEngineRefuses(db, `event_id = '${poison}'`, async () => {
      const requests: { t: TestTenant; body: unknown }[] = [];
      for (let i = 0; i < 10; i++)
        requests.push({
          t: a,
          body: [
            { eventId: `a${i}-1`, customerId: 'ca', metricName: 'm' },
            { eventId: `a${i}-2`, customerId: 'ca', metricName: 'm' },
          ],
        });
      for (let i = 0; i < 10; i++) requests.push({ t: b, body: { eventId: `b${i}`, customerId: 'cb', metricName: 'm' } });
      // b's poison request, and one where the poison has a valid neighbour
      requests.push({ t: b, body: { eventId: poison, customerId: 'cb', metricName: 'm' } });
      requests.push({
        t: b,
        body: [
          { eventId: 'b-neighbour', customerId: 'cb', metricName: 'm' },
          { eventId: poison, customerId: 'cb', metricName: 'm' },
        ],
      });
      const rows = 10 * 2 + 10 + 1 + 2;
      // Flushes only when every row of every request waits: all of them share one group-committed batch.
      const writer = new DirectWriter(db, { batchRows: rows, flushIntervalMs: 60_000, maxQueuedEvents: 1000 });
      const app = createApp({ ...r.deps, writer });
      // With Content-Length, as HTTP clients send it (a body without one is charged MAX_BODY_BYTES of the in-flight budget).
      const send = ({ t, body }: { t: TestTenant; body: unknown }) => {
        const text = JSON.stringify(body);
        return app.request('/v1/events', {
          method: 'POST',
          headers: { authorization: `Bearer ${t.adminKey}`, 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)) },
          body: text,
        });
      };
      const responses = await Promise.all(requests.map(send));
      const answers = await Promise.all(responses.map(async (res) => ({ status: res.status, body: (await res.json()) as any })));

      expect(answers.slice(0, 20).map((x) => x.status)).toEqual(Array(20).fill(200));
      const refused = { status: 'rejected', errors: [{ path: '', message: expect.stringMatching(/cannot store this event as sent/) }] };
      expect(answers[20]).toEqual({ status: 422, body: expect.objectContaining({ results: [{ index: 0, eventId: poison, ...refused }] }) });
      expect(answers[21]!.status).toBe(207);
      expect(answers[21]!.body.results).toEqual([
        { index: 0, eventId: 'b-neighbour', status: 'accepted' },
        { index: 1, eventId: poison, ...refused },
      ]);

      const aIds = Array.from({ length: 10 }, (_, i) => [`a${i}-1`, `a${i}-2`]).flat();
      const bIds = [...Array.from({ length: 10 }, (_, i) => `b${i}`), 'b-neighbour'];
      expect((await existingEventIds(db, { tenantId: a.tenantId, ids: aIds })).map((x) => x.event_id).sort()).toEqual(aIds.sort());
      expect((await existingEventIds(db, { tenantId: b.tenantId, ids: [...bIds, poison] })).map((x) => x.event_id).sort()).toEqual(bIds.sort());

      // A retry of the poison is refused the same way, never a retryable 503.
      const retry = new DirectWriter(db, { batchRows: 1, flushIntervalMs: 1, maxQueuedEvents: 10 });
      const again = await createApp({ ...r.deps, writer: retry }).request('/v1/events', {
        method: 'POST',
        headers: { authorization: `Bearer ${b.adminKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({ eventId: poison, customerId: 'cb', metricName: 'm' }),
      });
      expect(again.status).toBe(422);
      expect(again.headers.get('retry-after')).toBeNull();
      await Promise.all([writer.close(), retry.close()]);
    });
  });

  it('refuses a row whose text the engine cannot keep even when it bypasses validation, storing its neighbours', async () => {
    const { db } = (await engine()).deps;
    const tenant = `w_${randomUUID().slice(0, 8)}`;
    const row = (id: string, customer = 'c') => ({
      tenant_id: tenant,
      event_id: id,
      customer_id: customer,
      product_id: '',
      metric_name: 'm',
      timestamp: Date.now(),
      quantity: '1',
      dimensions: {},
      source: '',
      source_version: '',
      request_id: '',
      ingested_at: Date.now(),
    });
    const writer = new DirectWriter(db, { batchRows: 3, flushIntervalMs: 60_000, maxQueuedEvents: 10 });
    expect(await writer.write([row('x1'), row('x2', 'p\ud800'), row('x3')])).toEqual(['accepted', 'refused', 'accepted']);
    expect((await existingEventIds(db, { tenantId: tenant, ids: ['x1', 'x2', 'x3'] })).map((x) => x.event_id).sort()).toEqual(['x1', 'x3']);
    await writer.close();
  });
});
