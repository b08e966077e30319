import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { now } from './clock.js';
import { engine, eventRow, newTenant } from './harness.js';
import { execute, insertRows, runQuery } from '../sql/query.js';
import { TABLES } from '../sql/names.js';
import { insertEvents } from '../ingest/writer.js';

/**
 * Per-insert settings must not outlive their insert. The embedded engine's
 * adapter applies clickhouse_settings to the connection; an
 * insert_deduplication_token left behind would make the next insert into a
 * deduplicating table (billing claims, audit log, alert events) look like a
 * repeat of the earlier one and be dropped without an error.
 */
describe('insertRows settings', () => {
  it('a deduplication token applies to its own insert only', async () => {
    const { deps } = await engine();
    const db = deps.db;
    const table = `dedup_probe_${process.pid}`;
    await execute(
      db,
      'test.create',
      `CREATE TABLE ${db.database}.${table} (id UInt32) ENGINE = MergeTree ORDER BY id SETTINGS non_replicated_deduplication_window = 100`,
    );
    await insertRows(db, 'test.insert', table, [{ id: 1 }], {}, { insert_deduplication_token: 'probe-token' });
    // The same token again is a repeat: dropped, as intended.
    await insertRows(db, 'test.insert', table, [{ id: 2 }], {}, { insert_deduplication_token: 'probe-token' });
    // No token: a new block, whatever the earlier insert set.
    await insertRows(db, 'test.insert', table, [{ id: 3 }]);
    await insertRows(db, 'test.insert', table, [{ id: 4 }]);
    const rows = await runQuery(db, 'test.read', `SELECT id FROM ${db.database}.${table} ORDER BY id`, {}, z.object({ id: z.coerce.number() }));
    expect(rows.map((r) => r.id)).toEqual([1, 3, 4]);
  });
});

/**
 * The writer's inserts set `optimize_on_insert = 0` (EVENT_INSERT_SETTINGS): the engine writes each new part of
 * usage_events (and of its views' tables) as it came, without merging rows of equal key inside it, at level 0.
 * The writer's batch holds each identity once, so nothing is lost by it; what the reads rely on is that `FINAL`
 * still merges a level-0 part (the engine skips the merge only for parts written merged, at level 1 or more).
 */
describe("the writer's inserts as unmerged parts", () => {
  it('a part written without the merge on insert is read exactly by FINAL, and the setting ends with its insert', async () => {
    const t = await newTenant();
    const { db } = (await engine()).deps;
    const at = now() - 3_600_000;
    const row = (id: string, quantity: string) => eventRow(t.tenantId, id, at, { quantity });
    const events = `${db.database}.${TABLES.usageEvents}`;
    const counted = z.object({ id: z.string(), n: z.coerce.number(), q: z.string() });
    const read = (sql: string) => runQuery(db, 'test.read', sql, { t: t.tenantId }, counted.extend({ level: z.coerce.number() }));
    // Each part's level is the last field of its name; merges stay stopped so the parts are seen as written.
    const level = `toUInt32(splitByChar('_', _part)[-1])`;
    await execute(db, 'test.stop_merges', `SYSTEM STOP MERGES ${events}`);
    try {
      // insertEvents does not drop repeats (the writer does, before it): one identity twice in one part.
      await insertEvents(db, [row('twice', '1'), row('twice', '2'), row('once', '3')], 'test');
      expect(
        await read(
          `SELECT event_id AS id, count() AS n, toString(max(quantity)) AS q, max(${level}) AS level FROM ${events} WHERE tenant_id = {t:String} GROUP BY id ORDER BY id`,
        ),
      ).toEqual([
        { id: 'once', n: 1, q: '3', level: 0 },
        { id: 'twice', n: 2, q: '2', level: 0 },
      ]);
      // FINAL merges the unmerged part: one row per identity, the last one written.
      expect(
        await runQuery(
          db,
          'test.read',
          `SELECT event_id AS id, count() AS n, toString(any(quantity)) AS q FROM ${events} FINAL WHERE tenant_id = {t:String} GROUP BY id ORDER BY id`,
          { t: t.tenantId },
          counted,
        ),
      ).toEqual([
        { id: 'once', n: 1, q: '3' },
        { id: 'twice', n: 1, q: '2' },
      ]);
      // Another insert on the same connection, without the writer's settings: merged on insert again (level 1).
      await insertRows(db, 'test.insert', TABLES.usageEvents, [row('again', '4'), row('again', '5')]);
      expect(
        await read(
          `SELECT event_id AS id, count() AS n, toString(max(quantity)) AS q, max(${level}) AS level FROM ${events} WHERE tenant_id = {t:String} AND event_id = 'again' GROUP BY id`,
        ),
      ).toEqual([{ id: 'again', n: 1, q: '5', level: 1 }]);
    } finally {
      await execute(db, 'test.start_merges', `SYSTEM START MERGES ${events}`);
    }
  });
});
