import { z } from 'zod';
import { defineQuery } from '../query.js';
import { count } from '../count.js';

/**
 * Active parts of every table in meterhouse's database, per table and disk.
 * Aggregates over all tenants: no row data, only sizes.
 */
export const partsByDisk = defineQuery({
  name: 'storage.parts_by_disk',
  params: z.object({ database: z.string() }),
  row: z.object({ table: z.string(), disk: z.string(), rows: count, bytes: count, parts: count }),
  sql: () => `SELECT table, disk_name AS disk, sum(rows) AS rows, sum(bytes_on_disk) AS bytes, count() AS parts
FROM system.parts
WHERE database = {database:String} AND active
GROUP BY table, disk
ORDER BY table, disk`,
});

/** The oldest partition of a table that still has parts off the cold disk. */
export const oldestHotPartition = defineQuery({
  name: 'storage.oldest_hot_partition',
  params: z.object({ database: z.string(), table: z.string(), coldDisk: z.string() }),
  row: z.object({ partition: z.string(), rows: count, bytes: count, parts: count }),
  sql: () => `SELECT partition, sum(rows) AS rows, sum(bytes_on_disk) AS bytes, count() AS parts
FROM system.parts
WHERE database = {database:String} AND table = {table:String} AND active AND disk_name != {coldDisk:String}
GROUP BY partition
ORDER BY partition
LIMIT 1`,
});

/** The storage policy a table uses. */
export const tablePolicy = defineQuery({
  name: 'storage.table_policy',
  params: z.object({ database: z.string(), table: z.string() }),
  row: z.object({ policy: z.string() }),
  sql: () => `SELECT storage_policy AS policy FROM system.tables WHERE database = {database:String} AND name = {table:String}`,
});
