import { z } from 'zod';
import { ROLLUP_TIERS, type RollupTier } from './datasets/rollups.js';
import { onCluster, storageTable, type RenderTarget } from './engines.js';
import { defineQuery, execute, type Db } from './query.js';

const tableDdl = defineQuery({
  name: 'retention.table_ddl',
  params: z.object({ database: z.string(), table: z.string() }),
  row: z.object({ ddl: z.string() }),
  sql: () => `SELECT create_table_query AS ddl FROM system.tables WHERE database = {database:String} AND name = {table:String}`,
});

/**
 * Apply each rollup tier's retention (days; 0 keeps forever) as a table TTL.
 * Only a change is applied: MODIFY TTL rewrites TTL information of every part.
 */
export async function applyRollupRetention(db: Db, days: Record<RollupTier['name'], number>, cluster?: string): Promise<string[]> {
  const t: RenderTarget = { database: db.database, cluster };
  const changed: string[] = [];
  for (const tier of ROLLUP_TIERS) {
    const table = storageTable(t, tier.table);
    const [row] = await tableDdl(db, { database: db.database, table });
    if (!row) throw new Error(`table ${db.database}.${table} does not exist: run migrations first`);
    const n = days[tier.name];
    const current = /\bTTL window_start \+ toIntervalDay\((\d+)\)/.exec(row.ddl)?.[1];
    if (n === 0 ? current === undefined : current === String(n)) continue;
    const qualified = `${db.database}.${table}${onCluster(t)}`;
    const statement = n === 0 ? `ALTER TABLE ${qualified} REMOVE TTL` : `ALTER TABLE ${qualified} MODIFY TTL window_start + toIntervalDay(${Math.trunc(n)})`;
    await execute(db, `retention.${tier.name}`, statement);
    changed.push(tier.table);
  }
  return changed;
}
