import { z } from 'zod';
import { ROLLUP_TIERS, rollupSelect, windowStart, type RollupTier } from './datasets/rollups.js';
import { onCluster, qualified as qualifiedName, storageTable, type RenderTarget } from './engines.js';
import { defineQuery, execute, type Db } from './query.js';
import { TABLES, mvName } from './names.js';
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

const viewQuery = defineQuery({
  name: 'retention.view_query',
  params: z.object({ database: z.string(), view: z.string(), desired: z.string() }),
  row: z.object({ current: z.string(), desired: z.string() }),
  // The engine prints a view's SELECT in its own format: compare that with the desired text in the same format.
  sql: () =>
    `SELECT as_select AS current, formatQuerySingleLine({desired:String}) AS desired FROM system.tables WHERE database = {database:String} AND name = {view:String}`,
});

/**
 * A tier's view SELECT under a retention of `days` (0: forever): it writes no row of a window
 * the tier's TTL would delete at once (the same expression, on the same clock), so events
 * older than the retention (a backfill) cost the tier nothing.
 */
export function retainedRollupSelect(tier: RollupTier, source: string, days: number, clockOffsetMs = 0): string {
  if (days === 0) return rollupSelect(tier, source);
  return rollupSelect(tier, source, `${ttlAfter(windowStart(tier, 'timestamp'), days, clockOffsetMs)} > now()`);
}

async function currentDdl(db: Db, table: string) {
  const [row] = await tableDdl(db, { database: db.database, table });
  if (!row) throw new Error(`table ${db.database}.${table} does not exist: run migrations first`);
  return row;
}

/**
 * `column` plus `days`, as a TTL expression (and as ClickHouse prints it back).
 * TTLs are evaluated on the engine's clock; when the product's clock stands
 * `clockOffsetMs` from it (a test at another instant; domain/clock.ts), the
 * interval is shifted by that much so rows expire when the product's clock
 * says they are `days` old. Offset 0 (production) gives the plain form.
 */
export function ttlAfter(column: string, days: number, clockOffsetMs = 0): string {
  const offsetSeconds = Math.round(clockOffsetMs / 1000);
  if (offsetSeconds === 0) return `${column} + toIntervalDay(${Math.trunc(days)})`;
  return `${column} + toIntervalSecond(${Math.trunc(days) * 86_400 - offsetSeconds})`;
}

/** The TTL clause of a table as ClickHouse prints it in create_table_query, or undefined. */
const currentTtl = (ddl: string) => / TTL (.+?)(?: SETTINGS |$)/.exec(ddl)?.[1];

/**
 * The days a TTL written by ttlAfter keeps (0: no TTL, kept forever), or undefined when it is not
 * one ttlAfter writes. A TTL in seconds was shifted by the clock offset of the process that wrote
 * it: read back with this process's offset, to the nearest day.
 */
export function ttlDays(ttl: string | undefined, clockOffsetMs = 0): number | undefined {
  if (ttl === undefined) return 0;
  const days = /^window_start \+ toIntervalDay\((\d+)\)$/.exec(ttl);
  if (days) return Number(days[1]);
  const seconds = /^window_start \+ toIntervalSecond\((-?\d+)\)$/.exec(ttl);
  if (seconds) return Math.round((Number(seconds[1]) + Math.round(clockOffsetMs / 1000)) / 86_400);
  return undefined;
}

/** A tier whose retention grows: what it kept before (days; undefined: a TTL not written by meterhouse). */
export interface GrownRetention {
  tier: RollupTier['name'];
  fromDays: number | undefined;
}

/**
 * The tiers whose retention `days` keeps longer than their table's TTL does now (read before
 * applyRollupRetention changes it): the tier holds none of the windows the longer retention adds
 * (api/runtime.ts marks them, sql/queries/tier-filled.ts). A TTL this code did not write counts as grown.
 */
export async function grownRetention(db: Db, days: Record<RollupTier['name'], number>, cluster?: string, clockOffsetMs = 0): Promise<GrownRetention[]> {
  const t: RenderTarget = { database: db.database, cluster };
  const grown: GrownRetention[] = [];
  for (const tier of ROLLUP_TIERS) {
    const before = ttlDays(currentTtl((await currentDdl(db, storageTable(t, tier.table))).ddl), clockOffsetMs);
    const after = days[tier.name];
    if (before === 0) continue;
    if (before === undefined || after === 0 || after > before) grown.push({ tier: tier.name, fromDays: before });
  }
  return grown;
}

/**
 * Apply each rollup tier's retention (days; 0 keeps forever) as a table TTL, and to the
 * tier's view (retainedRollupSelect), so it never writes what the TTL would delete.
 * Only a change is applied: MODIFY TTL rewrites TTL information of every part.
 * The rewrites of the reconciler and of corrections (`tierKeptFrom`, sql/datasets/rollups.ts)
 * skip a tier's windows older than its retention too.
 */
export async function applyRollupRetention(db: Db, days: Record<RollupTier['name'], number>, cluster?: string, clockOffsetMs = 0): Promise<string[]> {
  const t: RenderTarget = { database: db.database, cluster };
  const changed: string[] = [];
  for (const tier of ROLLUP_TIERS) {
    const table = storageTable(t, tier.table);
    const row = await currentDdl(db, table);
    const n = days[tier.name];
    const desired = n === 0 ? undefined : ttlAfter('window_start', n, clockOffsetMs);
    const view = await applyViewRetention(db, t, tier, n, clockOffsetMs);
    if (currentTtl(row.ddl) !== desired) {
      const qualified = `${db.database}.${table}${onCluster(t)}`;
      const statement = desired === undefined ? `ALTER TABLE ${qualified} REMOVE TTL` : `ALTER TABLE ${qualified} MODIFY TTL ${desired}`;
      await execute(db, `retention.${tier.name}`, statement);
    } else if (!view) continue;
    changed.push(tier.table);
  }
  return changed;
}

/**
 * Give a tier's view the SELECT of its retention (retainedRollupSelect), if it has another. ALTER
 * ... MODIFY QUERY changes the view in place, so no insert is missed. Whether it changed.
 */
async function applyViewRetention(db: Db, t: RenderTarget, tier: RollupTier, days: number, clockOffsetMs: number): Promise<boolean> {
  const select = retainedRollupSelect(tier, qualifiedName(t, storageTable(t, TABLES.usageEvents)), days, clockOffsetMs);
  const view = mvName(tier.table);
  const [row] = await viewQuery(db, { database: db.database, view, desired: select });
  if (!row) throw new Error(`view ${db.database}.${view} does not exist: run migrations first`);
  if (row.current === row.desired) return false;
  await execute(db, `retention.${tier.name}_view`, `ALTER TABLE ${qualifiedName(t, view)}${onCluster(t)} MODIFY QUERY\n${select}`);
  return true;
}

/** How long raw events stay where; every field absent means one local tier, kept forever. */
export interface EventsRetention {
  /** Days after event time before a part moves to the cold (S3) volume; absent: no tiering. */
  hotDays?: number | undefined;
  /** Days after event time before raw events are deleted; absent: never. */
  rawDays?: number | undefined;
  /** The product clock's offset from the engine's (see ttlAfter). */
  clockOffsetMs?: number | undefined;
}

/** The TTL clause of usage_events as ClickHouse prints it back (DELETE is implied), or undefined for none. */
export function eventsTtl(r: EventsRetention): string | undefined {
  const rules: string[] = [];
  if (r.hotDays !== undefined) rules.push(`${ttlAfter('timestamp', r.hotDays, r.clockOffsetMs)} TO VOLUME '${COLD_VOLUME}'`);
  if (r.rawDays !== undefined) rules.push(ttlAfter('timestamp', r.rawDays, r.clockOffsetMs));
  return rules.length > 0 ? rules.join(', ') : undefined;
}

/** The raw event tables: usage_events and the billing log, which must never hold what the other has lost. */
export const RAW_EVENT_TABLES = [TABLES.usageEvents, TABLES.usageEventLog] as const;

/**
 * Put the raw event tables (usage_events and usage_event_log) on the tiered
 * storage policy (once; a policy cannot be taken back) and give them the TTL of
 * `r`. Like rollup retention, only a change is applied: MODIFY TTL rewrites the
 * TTL information of every part. Returns what changed, prefixed with the table
 * for the log (`storage_policy`, `ttl` for usage_events; `usage_event_log.ttl`...).
 */
export async function applyEventsRetention(db: Db, r: EventsRetention, cluster?: string): Promise<string[]> {
  const changed: string[] = [];
  for (const name of RAW_EVENT_TABLES) {
    const prefix = name === TABLES.usageEvents ? '' : `${name}.`;
    for (const c of await applyTableRetention(db, name, r, cluster)) changed.push(`${prefix}${c}`);
  }
  // The identities of stored events (sql/datasets/event-ids.ts) are deleted with the events they name, at the same
  // age; they stay on the local disk (a few bytes per event), so only the deletion applies to them.
  const idsRetention = { rawDays: r.rawDays, clockOffsetMs: r.clockOffsetMs };
  for (const c of await applyTableRetention(db, TABLES.usageEventIds, idsRetention, cluster)) changed.push(`${TABLES.usageEventIds}.${c}`);
  return changed;
}

async function applyTableRetention(db: Db, name: string, r: EventsRetention, cluster?: string): Promise<string[]> {
  const t: RenderTarget = { database: db.database, cluster };
  const table = storageTable(t, name);
  const qualified = `${db.database}.${table}${onCluster(t)}`;
  const row = await currentDdl(db, table);
  const changed: string[] = [];
  if (r.hotDays !== undefined && row.policy !== STORAGE_POLICY) {
    const volumes = (await policyVolumes(db, { policy: STORAGE_POLICY })).map((v) => v.volume);
    if (!volumes.includes(COLD_VOLUME)) {
      throw new Error(
        `ClickHouse has no storage policy "${STORAGE_POLICY}" with a volume "${COLD_VOLUME}": configure it on the server (see the docs/storage.md)`,
      );
    }
    await execute(db, 'retention.events_policy', `ALTER TABLE ${qualified} MODIFY SETTING storage_policy = '${STORAGE_POLICY}'`);
    changed.push('storage_policy');
  }
  const desired = eventsTtl(r);
  if (desired !== currentTtl(row.ddl)) {
    await execute(db, 'retention.events_ttl', desired ? `ALTER TABLE ${qualified} MODIFY TTL ${desired}` : `ALTER TABLE ${qualified} REMOVE TTL`);
    changed.push('ttl');
  }
  return changed;
}
