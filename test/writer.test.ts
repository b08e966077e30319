import { describe, expect, it } from 'vitest';
import { engine, newTenant, whileEngineRefuses } from './harness.js';
import { createApp } from '../api/app.js';
import { DirectWriter, WriterFullError, WriterClosedError } from '../ingest/writer.js';
import type { EventRow } from '../ingest/normalise.js';
import { existingEventIds } from '../sql/queries/events.js';
import { TABLES } from '../sql/names.js';

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

  it('answers one outcome per row in order, across batches, and an empty write at once', async () => {
    const { db } = (await engine()).deps;
    const writer = new DirectWriter(db, { batchRows: 2, flushIntervalMs: 1, maxQueuedEvents: 100 });
    const tenant = `w_${Date.now()}_order`;
    expect(await writer.write([])).toEqual([]);
    // Five rows make three batches; the repeats of 'x' and 'y' are answered in the rows' own positions.
    const outcomes = await writer.write(['x', 'y', 'x', 'z', 'y'].map((id) => row(tenant, id)));
    expect(outcomes).toEqual(['accepted', 'accepted', 'duplicate', 'accepted', 'duplicate']);
    expect(await writer.write([row(tenant, 'z'), row(tenant, 'w')])).toEqual(['duplicate', 'accepted']);
    await writer.close();
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

  it('pipelined batches store each identity once: repeats in the next batch, across many small batches, under concurrent writes', async () => {
    const { db } = (await engine()).deps;
    // Each insert starts 50 ms late, so the next batch's lookup runs before the rows it repeats are in the table.
    const slow = {
      ...db,
      rawInsert:
        db.rawInsert &&
        (async (...args: Parameters<NonNullable<typeof db.rawInsert>>) => {
          await new Promise((r) => setTimeout(r, 50));
          await db.rawInsert!(...args);
        }),
    };
    expect(slow.rawInsert).toBeDefined();
    const writer = new DirectWriter(slow, { batchRows: 5, flushIntervalMs: 1, maxQueuedEvents: 10_000 });
    const tenant = `w_${Date.now()}_pipe`;
    // 300 rows in writes of 6 (batches of 5 follow the order of the writes): rows 10k..10k+4 and 10k+5..10k+9 carry the same
    // 5 ids, so every batch repeats the one before it (looked up while that one is inserted); the last 20 repeat the first ids.
    const ids = Array.from({ length: 300 }, (_, i) => (i < 280 ? `e${Math.floor(i / 10) * 5 + (i % 5)}` : `e${i - 280}`));
    const writes = Array.from({ length: 50 }, (_, w) => ids.slice(w * 6, w * 6 + 6).map((id) => row(tenant, id)));
    const outcomes = (await Promise.all(writes.map((rows) => writer.write(rows)))).flat();
    const acceptedIds = ids.filter((_, i) => outcomes[i] === 'accepted');
    expect(new Set(ids).size).toBe(140);
    expect(acceptedIds.sort()).toEqual([...new Set(ids)].sort());
    expect(outcomes.filter((o) => o === 'duplicate')).toHaveLength(160);
    // Not FINAL: the table itself holds one row per identity, not merely a read that collapses repeats.
    const [stored] = (await (
      await db.client.query({
        query: `SELECT count() AS n, uniqExact(event_id) AS ids FROM ${db.database}.${TABLES.usageEvents} WHERE tenant_id = {t:String}`,
        query_params: { t: tenant },
        format: 'JSONEachRow',
      })
    ).json()) as { n: string; ids: string }[];
    expect(stored).toEqual({ n: '140', ids: '140' });
    await writer.close();
  });

  it('a row the engine refused in one batch does not make its identity a duplicate in the next', async () => {
    const { db } = (await engine()).deps;
    const tenant = `w_${Date.now()}_refused`;
    await whileEngineRefuses(db, `tenant_id = '${tenant}' AND customer_id = 'poison'`, async () => {
      const writer = new DirectWriter(db, { batchRows: 2, flushIntervalMs: 60_000, maxQueuedEvents: 100 });
      const poisoned = { ...row(tenant, 'x'), customer_id: 'poison' };
      // Batch 1: [x (poison), y]; batch 2: [x (valid), y] is looked up while batch 1 is inserted.
      const [first, second] = await Promise.all([writer.write([poisoned, row(tenant, 'y')]), writer.write([row(tenant, 'x'), row(tenant, 'y')])]);
      expect(first).toEqual(['refused', 'accepted']);
      expect(second).toEqual(['accepted', 'duplicate']);
      expect((await existingEventIds(db, { tenantId: tenant, ids: ['x', 'y'] })).map((r) => r.event_id).sort()).toEqual(['x', 'y']);
      await writer.close();
    });
  });
});
