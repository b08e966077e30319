import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { engine } from './harness.js';
import { execute, insertRows, runQuery } from '../sql/query.js';

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
