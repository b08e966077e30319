import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { engine, newTenant, whileEngineRefuses } from './harness.js';
import { now } from './clock.js';
import { TABLES } from '../sql/names.js';
import { runQuery } from '../sql/query.js';
import { insertEvents } from '../ingest/writer.js';
import { insertIsolating } from '../ingest/isolating-insert.js';
import { eventsCsv } from '../ingest/event-csv.js';
import type { EventRow } from '../ingest/normalise.js';

/**
 * The writer isolates a row the engine refuses by inserting halves of its batch again (ingest/isolating-insert.ts).
 * That is exact only if an insert the engine refuses stored nothing. The engine parses a large insert in chunks of
 * 10 MiB (input_format_parallel_parsing), in parallel: a batch of the largest events the contract allows can be
 * larger than that. Here a batch of about 14 MB (as CSV, and as JSON when a line feed keeps it off CSV) ends with a
 * row the engine refuses by a table constraint: nothing of the first insert may remain, every other row is stored
 * once, and the rollups count each once.
 */
const DIMENSIONS = 50;
const VALUE = 1024;

function bigRows(tenantId: string, n: number, poison: string, lineFeed: boolean, t0: number): EventRow[] {
  return Array.from({ length: n }, (_, i) => ({
    tenant_id: tenantId,
    event_id: i === n - 1 ? poison : `big-${i}`,
    customer_id: `c${i % 7}`,
    product_id: '',
    metric_name: 'bytes',
    timestamp: t0 + i * 1000,
    quantity: String(i + 1),
    dimensions: Object.fromEntries(
      Array.from({ length: DIMENSIONS }, (_, d) => [`k${d}`, `${String(i).padStart(6, '0')}${d === 0 && lineFeed ? '\n' : ''}`.padEnd(VALUE, 'v')]),
    ),
    source: '',
    source_version: '',
    request_id: '',
    ingested_at: t0,
  }));
}

describe('a refused insert larger than the engine parses at once', () => {
  for (const lineFeed of [false, true]) {
    it(`stores nothing of the refused insert, then every other row once (${lineFeed ? 'JSON' : 'CSV'})`, async () => {
      const r = await engine();
      const { db } = r.deps;
      const t = await newTenant();
      const poison = `poison-${randomUUID().replace(/-/g, '')}`;
      const n = 280;
      // An hour before the tests' now: inside every tier's retention (the hour tier's view writes no window older than
      // ROLLUP_HOUR_RETENTION_DAYS), whatever day the test runs.
      const rows = bigRows(t.tenantId, n, poison, lineFeed, now() - 3_600_000);
      const csv = eventsCsv(rows);
      if (lineFeed) expect(csv).toBeUndefined();
      else expect(csv!.length).toBeGreaterThan(12 * 1024 * 1024);
      expect(Buffer.byteLength(JSON.stringify(rows))).toBeGreaterThan(12 * 1024 * 1024);

      let inserts = 0;
      const results = await whileEngineRefuses(db, `event_id = '${poison}'`, () =>
        insertIsolating((batch) => {
          inserts++;
          return insertEvents(db, batch, 'test.atomicity');
        }, rows),
      );
      expect(results.slice(0, n - 1).every((x) => x.status === 'stored')).toBe(true);
      expect(results[n - 1]).toEqual({ status: 'refused' });
      // The whole batch, then halves down to the poison: the first, refused, insert held every row.
      expect(inserts).toBeGreaterThan(2);

      // Without FINAL: a row of a refused insert that had been stored would be here twice.
      const stored = await runQuery(
        db,
        'test.atomicity_rows',
        `SELECT count() AS rows, uniqExact(event_id) AS ids, toString(sum(quantity)) AS total
         FROM ${db.database}.${TABLES.usageEvents} WHERE tenant_id = {tenantId:String}`,
        { tenantId: t.tenantId },
        z.object({ rows: z.coerce.number(), ids: z.coerce.number(), total: z.string() }),
      );
      const expectedTotal = String(((n - 1) * n) / 2);
      expect(stored).toEqual([{ rows: n - 1, ids: n - 1, total: expectedTotal }]);
      // The views saw each stored row once: no block of the refused insert reached them either.
      for (const table of [TABLES.usageEventLog, TABLES.usagePerHour, TABLES.usagePerDay]) {
        const counted = await runQuery(
          db,
          'test.atomicity_views',
          table === TABLES.usageEventLog
            ? `SELECT count() AS events FROM ${db.database}.${table} WHERE tenant_id = {tenantId:String}`
            : `SELECT sum(events) AS events FROM ${db.database}.${table} WHERE tenant_id = {tenantId:String}`,
          { tenantId: t.tenantId },
          z.object({ events: z.coerce.number() }),
        );
        expect(counted, table).toEqual([{ events: n - 1 }]);
      }
    });
  }
});
