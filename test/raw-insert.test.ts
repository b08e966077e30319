import { expect, it } from 'vitest';
import { engine, newTenant } from './harness.js';
import { TABLES } from '../sql/names.js';
import { insertRows, type Db, type RawInsert } from '../sql/query.js';
import { StorageError } from '../sql/storage-error.js';
import { existingEventIds } from '../sql/queries/events.js';

it("on the embedded engine inserts hand JSONEachRow bytes (one JSON array of the rows) to chdb's own insert, rows stored exactly, refusals keep their ClickHouse code", async () => {
  const { db } = (await engine()).deps;
  // Set by sql/connect.ts for the embedded engine only (server mode keeps @clickhouse/client's insert).
  expect(db.rawInsert).toBeTypeOf('function');
  const t = await newTenant();
  const bodies: string[] = [];
  const rawInsert: RawInsert = (table, body, settings) => {
    bodies.push(body.toString());
    return db.rawInsert!(table, body, settings);
  };
  const counted: Db = { ...db, rawInsert };
  const row = {
    tenant_id: t.tenantId,
    event_id: 'raw-1',
    customer_id: 'c',
    metric_name: 'raw.test',
    timestamp: 1_700_000_000_123,
    quantity: '12345678901234567890123456789.123456789',
    dimensions: { region: 'eu', ключ: 'значение' },
    ingested_at: 1_700_000_000_123,
  };
  const second = { ...row, event_id: 'raw-1b', quantity: '0.000000001', dimensions: {} };
  await insertRows(counted, 'test.raw_insert', TABLES.usageEvents, [row, second]);
  expect(bodies).toEqual([JSON.stringify([row, second])]);
  const res = await db.client.query({
    query: `SELECT toString(quantity) AS q, dimensions AS d, toUnixTimestamp64Milli(timestamp) AS ts FROM ${db.database}.${TABLES.usageEvents} WHERE tenant_id = {t:String} ORDER BY event_id`,
    query_params: { t: t.tenantId },
    format: 'JSONEachRow',
  });
  expect(await res.json()).toEqual([
    { q: row.quantity, d: row.dimensions, ts: String(row.timestamp) },
    { q: second.quantity, d: {}, ts: String(row.timestamp) },
  ]);

  // A row the engine cannot parse is refused with its ClickHouse code (the writer isolates refused rows by it).
  const bad = insertRows(counted, 'test.raw_insert', TABLES.usageEvents, [{ ...row, event_id: 'raw-2', timestamp: 'not a time' }]);
  await expect(bad).rejects.toBeInstanceOf(StorageError);
  await expect(bad).rejects.toHaveProperty('clickhouseCode', expect.stringMatching(/^\d+$/));
  expect(await existingEventIds(db, { tenantId: t.tenantId, ids: ['raw-2'] })).toEqual([]);
});
