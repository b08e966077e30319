import { describe, expect, it } from 'vitest';
import { insertIsolating } from './isolating-insert.js';
import { StorageError } from '../sql/storage-error.js';

/** An insert that stores rows unless one is poison (refused as the engine refuses data), or fails outright when `down`. */
function table(poison: Set<number>, down = false) {
  const stored: number[] = [];
  let inserts = 0;
  const insert = async (rows: readonly number[]) => {
    inserts++;
    if (down) throw new StorageError('events.insert', '210');
    if (rows.some((r) => poison.has(r))) throw new StorageError('events.insert', '25');
    stored.push(...rows);
  };
  return { insert, stored, inserts: () => inserts };
}

describe('insertIsolating', () => {
  it('stores every row but the refused ones, in O(k log n) inserts', async () => {
    const rows = Array.from({ length: 1000 }, (_, i) => i);
    const t = table(new Set([17, 600]));
    const results = await insertIsolating(t.insert, rows);
    expect(results.filter((r) => r.status === 'refused')).toHaveLength(2);
    expect(results[17]).toEqual({ status: 'refused' });
    expect(results[600]).toEqual({ status: 'refused' });
    expect(t.stored.sort((a, b) => a - b)).toEqual(rows.filter((r) => r !== 17 && r !== 600));
    expect(t.inserts()).toBeLessThanOrEqual(1 + 2 * 2 * Math.ceil(Math.log2(1000)));
  });

  it('fails the rows (retryable) when storage is unavailable, without splitting', async () => {
    const t = table(new Set(), true);
    const results = await insertIsolating(t.insert, [1, 2, 3]);
    expect(results.map((r) => r.status)).toEqual(['failed', 'failed', 'failed']);
    expect(t.inserts()).toBe(1);
  });
});
