import { z } from 'zod';
import { ROLLUP_TIERS, type RollupTier } from './datasets/rollups.js';
import { onCluster, storageTable, type RenderTarget } from './engines.js';
import { defineQuery, execute, type Db } from './query.js';
import { TABLES } from './names.js';
import { COLD_VOLUME, STORAGE_POLICY } from './tiering.js';

const tableDdl = defineQuery({
  name: 'retention.table_ddl',
  params: z.object({ database: z.string(), table: z.string() }),
  row: z.object({ ddl: z.string(), policy: z.string() }),
  sql: () => `SELECT create_table_query AS ddl, storage_policy AS policy FROM system.tables WHERE database = {database:String} AND name = {table:String}`,
});

const policyVolumes = defineQuery({
  name: 'retention.policy_volumes',
  params: z.object({ policy: z.string() }),
  row: z.object({ volume: z.string() }),
  sql: () => `SELECT volume_name AS volume FROM system.storage_policies WHERE policy_name = {policy:String}`,
});

async function currentDdl(db: Db, table: string) {
  const [row] = await tableDdl(db, { database: db.database, table });
  if (!row) throw new Error(`table ${db.database}.${table} does not exist: run migrations first`);
  return row;
}

/**
 * Apply each rollup tier's retention (days; 0 keeps forever) as a table TTL.
 * Only a change is applied: MODIFY TTL rewrites TTL information of every part.
 */
export async function applyRollupRetention(db: Db, days: Record<RollupTier['name'], number>, cluster?: string): Promise<string[]> {
  const t: RenderTarget = { database: db.database, cluster };
  const changed: string[] = [];
  for (const tier of ROLLUP_TIERS) {
    const table = storageTable(t, tier.table);
    const row = await currentDdl(db, table);
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

/** How long raw events stay where; every field absent means one local tier, kept forever. */
export interface EventsRetention {
  /** Days after event time before a part moves to the cold (S3) volume; absent: no tiering. */
  hotDays?: number | undefined;
  /** Days after event time before raw events are deleted; absent: never. */
  rawDays?: number | undefined;
}

/** The TTL clause of usage_events as ClickHouse prints it back (DELETE is implied), or undefined for none. */
export function eventsTtl(r: EventsRetention): string | undefined {
  const rules: string[] = [];
  if (r.hotDays !== undefined) rules.push(`timestamp + toIntervalDay(${Math.trunc(r.hotDays)}) TO VOLUME '${COLD_VOLUME}'`);
  if (r.rawDays !== undefined) rules.push(`timestamp + toIntervalDay(${Math.trunc(r.rawDays)})`);
  return rules.length > 0 ? rules.join(', ') : undefined;
}

/**
 * Put usage_events on the tiered storage policy (once; a policy cannot be taken
 * back) and give it the TTL of `r`. Like rollup retention, only a change is
 * applied: MODIFY TTL rewrites the TTL information of every part.
 */
export async function applyEventsRetention(db: Db, r: EventsRetention, cluster?: string): Promise<string[]> {
  const t: RenderTarget = { database: db.database, cluster };
  const table = storageTable(t, TABLES.usageEvents);
  const qualified = `${db.database}.${table}${onCluster(t)}`;
  const row = await currentDdl(db, table);
  const changed: string[] = [];
  if (r.hotDays !== undefined && row.policy !== STORAGE_POLICY) {
    const volumes = (await policyVolumes(db, { policy: STORAGE_POLICY })).map((v) => v.volume);
    if (!volumes.includes(COLD_VOLUME)) {
      throw new Error(`ClickHouse has no storage policy "${STORAGE_POLICY}" with a volume "${COLD_VOLUME}": configure it on the server (see the README, "Tiered storage on S3")`);
    }
    await execute(db, 'retention.events_policy', `ALTER TABLE ${qualified} MODIFY SETTING storage_policy = '${STORAGE_POLICY}'`);
    changed.push('storage_policy');
  }
  const desired = eventsTtl(r);
  const current = / TTL (.+?)(?: SETTINGS |$)/.exec(row.ddl)?.[1];
  if (desired !== current) {
    await execute(db, 'retention.events_ttl', desired ? `ALTER TABLE ${qualified} MODIFY TTL ${desired}` : `ALTER TABLE ${qualified} REMOVE TTL`);
    changed.push('ttl');
  }
  return changed;
}
