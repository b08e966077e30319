import { describe, expect, it } from 'vitest';
import { engine, newTenant } from './harness.js';
import { createApp } from '../api/app.js';
import { DirectWriter, WriterFullError, WriterClosedError } from '../ingest/writer.js';
import type { EventRow } from '../ingest/normalise.js';
import { existingEventIds } from '../sql/queries/events.js';

const row = (tenant: string, id: string): EventRow => ({
  tenant_id: tenant,
  event_id: id,
  customer_id: 'c',
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

describe('DirectWriter', () => {
  it('acknowledges only after the rows are in the table', async () => {
    const { db } = (await engine()).deps;
    const writer = new DirectWriter(db, { batchRows: 100, flushIntervalMs: 50, maxQueuedEvents: 1000 });
    const tenant = `w_${Date.now()}`;
    const done = writer.write([row(tenant, 'a'), row(tenant, 'b'), row(tenant, 'a')]);
    expect(await existingEventIds(db, { tenantId: tenant, ids: ['a', 'b'] })).toEqual([]);
    expect(await done).toEqual(['accepted', 'accepted', 'duplicate']);
    expect((await existingEventIds(db, { tenantId: tenant, ids: ['a', 'b'] })).map((r) => r.event_id).sort()).toEqual(['a', 'b']);
    await writer.close();
    await expect(writer.write([row(tenant, 'c')])).rejects.toBeInstanceOf(WriterClosedError);
  });

  it('bounds its memory: a write beyond capacity is refused at once, earlier ones still land', async () => {
    const { db } = (await engine()).deps;
    const writer = new DirectWriter(db, { batchRows: 1000, flushIntervalMs: 60_000, maxQueuedEvents: 3 });
    const tenant = `w_${Date.now()}_full`;
    const first = writer.write([row(tenant, '1'), row(tenant, '2')]);
    await expect(writer.write([row(tenant, '3'), row(tenant, '4')])).rejects.toBeInstanceOf(WriterFullError);
    expect(writer.queued).toBe(2);
    await writer.flush();
    expect(await first).toEqual(['accepted', 'accepted']);
    expect(writer.queued).toBe(0);
    await writer.close();
  });

  it('turns a full buffer into 503 with Retry-After, and a storage failure into 503 with nothing acknowledged', async () => {
    const r = await engine();
    const t = await newTenant();
    const full = new DirectWriter(r.deps.db, { batchRows: 1000, flushIntervalMs: 60_000, maxQueuedEvents: 1 });
    const held = full.write([row(t.tenantId, 'held')]);
    const app = createApp({ ...r.deps, writer: full });
    const res = await app.request('/v1/events', {
      method: 'POST',
      headers: { authorization: `Bearer ${t.adminKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ eventId: 'x', customerId: 'c', metricName: 'm' }),
    });
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('1');
    expect(((await res.json()) as any).error.code).toBe('ingest_buffer_full');
    await full.close();
    expect(await held).toEqual(['accepted']);

    // a writer pointed at a database that does not exist fails every insert
    const broken = new DirectWriter({ ...r.deps.db, database: 'no_such_database' }, { batchRows: 10, flushIntervalMs: 1, maxQueuedEvents: 100 });
    const brokenApp = createApp({ ...r.deps, writer: broken });
    const failed = await brokenApp.request('/v1/events', {
      method: 'POST',
      headers: { authorization: `Bearer ${t.adminKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ eventId: 'lost?', customerId: 'c', metricName: 'm' }),
    });
    expect(failed.status).toBe(503);
    const body = (await failed.json()) as any;
    expect(body.error.code).toBe('storage_unavailable');
    expect(body.error.message).not.toMatch(/no_such_database|lost\?/);
    expect(await existingEventIds(r.deps.db, { tenantId: t.tenantId, ids: ['lost?'] })).toEqual([]);
    await broken.close();
  });
});
