import { z } from 'zod';
import { execute, runQuery, type Db, type QueryTags } from '../query.js';
import { count } from '../count.js';

/** A month partition of a rollup tier (`partition` is its id, `YYYYMM`) held in more than one part. */
export interface SplitPartition {
  table: string;
  partition: string;
  parts: number;
  /** Parts without `projection` (a part the engine left without it): such parts cannot merge with parts that have it. */
  partsWithoutProjection: number;
}

const PARTITION_ID = /^\d{6}$/;

const splitRow = z.object({ table: z.string(), partition: z.string().regex(PARTITION_ID), parts: count, partsWithoutProjection: count });

/**
 * Month partitions of `tables` before `beforePartition` (a `YYYYMM` id) held in more than one active
 * part, none of them written (or rewritten) within the last `settleSeconds` of engine time; the most
 * parts first. `projection`: the projection the parts should have ('' for tables without one).
 */
export async function splitPartitions(
  db: Db,
  tables: readonly string[],
  beforePartition: string,
  settleSeconds: number,
  projection: string,
  tags: QueryTags = {},
): Promise<SplitPartition[]> {
  if (!PARTITION_ID.test(beforePartition)) throw new Error(`not a month partition id: ${beforePartition}`);
  const sql = `SELECT table, partition_id AS partition, count() AS parts,
  countIf({projection:String} != '' AND NOT has(projections, {projection:String})) AS partsWithoutProjection
FROM system.parts
WHERE database = {database:String} AND table IN {tables:Array(String)} AND active AND partition_id < {before:String}
GROUP BY table, partition_id
HAVING parts > 1 AND max(modification_time) <= now() - toIntervalSecond({settleSeconds:UInt32})
ORDER BY parts DESC, table, partition`;
  const params = { database: db.database, tables, before: beforePartition, settleSeconds, projection };
  return runQuery(db, 'rollups.compact.partitions', sql, params, splitRow, tags);
}

/** Active parts of one partition of a table. */
export async function partsOf(db: Db, table: string, partition: string, tags: QueryTags = {}): Promise<number> {
  const sql = `SELECT count() AS parts FROM system.parts WHERE database = {database:String} AND table = {table:String} AND partition_id = {partition:String} AND active`;
  const rows = await runQuery(db, 'rollups.compact.parts', sql, { database: db.database, table, partition }, z.object({ parts: count }), tags);
  return rows[0]?.parts ?? 0;
}

/**
 * Merge one partition into one part (`OPTIMIZE ... FINAL`): an aggregating merge sums rows of the
 * same key, which every read sums anyway, and removes rows a lightweight delete marked, so what any
 * read answers is unchanged. With `projection`, parts without it get it first (synchronously): the
 * engine does not merge parts of different projection sets. Table and partition are checked names
 * from `splitPartitions`: neither statement takes a bound value in those places.
 */
export async function mergePartition(db: Db, p: SplitPartition, projection: string, tags: QueryTags = {}): Promise<void> {
  if (!PARTITION_ID.test(p.partition)) throw new Error(`not a month partition id: ${p.partition}`);
  if (!/^[a-z_][a-z0-9_]*$/.test(p.table) || (projection !== '' && !/^[a-z_][a-z0-9_]*$/.test(projection))) throw new Error('invalid table or projection name');
  const table = `${db.database}.${p.table}`;
  if (projection !== '' && p.partsWithoutProjection > 0) {
    await execute(
      db,
      'rollups.compact.materialize_projection',
      `ALTER TABLE ${table} MATERIALIZE PROJECTION ${projection} IN PARTITION ID '${p.partition}' SETTINGS mutations_sync = 1`,
      {},
      tags,
    );
  }
  await execute(db, 'rollups.compact.merge', `OPTIMIZE TABLE ${table} PARTITION ID '${p.partition}' FINAL`, {}, tags);
}
