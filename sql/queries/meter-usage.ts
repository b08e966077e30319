import { z } from 'zod';
import { TABLES } from '../names.js';
import { runQuery, type Db, type QueryTags } from '../query.js';
import { latestKey, type RollupTier } from '../datasets/rollups.js';
import { countsAsInteger, type Aggregation } from './meters.js';
import { wideSum } from '../decimals.js';
import { count, CountTooLargeError } from '../count.js';

export const GRANULARITIES = ['minute', 'hour', 'day', 'week', 'month', 'total'] as const;
export type Granularity = (typeof GRANULARITIES)[number];

/** Where a usage query reads: a rollup tier, or raw events (exact by FINAL). */
export type UsageSource = { kind: 'rollup'; tier: RollupTier } | { kind: 'raw' };

export interface MeterUsageQuery {
  tenantId: string;
  metricName: string;
  aggregation: Aggregation;
  uniqueDimension?: string | undefined;
  source: UsageSource;
  granularity: Granularity;
  tz: string;
  fromMs: number;
  toMs: number;
  customerId?: string | undefined;
  groupByCustomer: boolean;
  groupBy: readonly string[];
  /** Each entry restricts one dimension to a set of values; entries are ANDed (meter filter and query filter alike). */
  filters: readonly { dimension: string; values: readonly string[] }[];
  /** Grouped reads come in group order (customerId, then groupBy); a page starts after this group key and holds at most `maxCells` cells. */
  page?: { afterGroup?: readonly string[] | undefined; maxCells: number } | undefined;
}

const PERCENTILE: Partial<Record<Aggregation, string>> = { P50: '0.5', P90: '0.9', P95: '0.95', P99: '0.99' };

/** Aggregations only a tier that keeps every quantity answers exactly (RollupTier.quantities); elsewhere they read raw events. */
export const PERCENTILES: ReadonlySet<Aggregation> = new Set(Object.keys(PERCENTILE) as Aggregation[]);

/** Whether a rollup tier holds what `aggregation` needs. */
export const tierAnswers = (tier: RollupTier, aggregation: Aggregation) => !PERCENTILES.has(aggregation) || tier.quantities === true;

/** Whether a read of `aggregation` from `source` merges the tier's quantities (and so must check that its rows hold them all). */
const readsQuantities = (aggregation: Aggregation, source: UsageSource) =>
  source.kind === 'rollup' && source.tier.quantities === true && PERCENTILES.has(aggregation);

// Distinct values of one dimension among events that carry it. Exact from a rollup too: its rows keep whole dimension maps.
const UNIQUE = 'uniqExactIf(dimensions[{uniqueDimension:String}], mapContains(dimensions, {uniqueDimension:String}))';

/**
 * The quantity of the newest raw event, by (timestamp, event_id): argMax by latestKey, the one string that orders as
 * that tuple (sql/datasets/rollups.ts), which the engine compares cheaply (an argMax by the tuple keeps it in a
 * generic form). The rollup tiers' LATEST state is argMax by the same key, so raw and rollup reads pick alike.
 */
export const RAW_LATEST = `argMax(quantity, ${latestKey('toUnixTimestamp64Milli(timestamp)', 'event_id')})`;

/**
 * A meter's value over a group of rows; raw rows need columns quantity, timestamp, event_id, dimensions.
 * SUM and AVG sum in Decimal(76, 9) (sql/decimals.ts); MIN, MAX, LATEST and the percentiles are one
 * of the stored Decimal(38, 9) quantities (quantileExact picks a value, never interpolates), so none can overflow.
 */
export function valueExpression(aggregation: Aggregation, source: UsageSource): string {
  if (aggregation === 'UNIQUE_COUNT') return UNIQUE;
  if (source.kind === 'raw') {
    const p = PERCENTILE[aggregation];
    if (p) return `toString(quantileExact(${p})(quantity))`;
    const raw: Partial<Record<Aggregation, string>> = {
      SUM: `toString(${wideSum('quantity')})`,
      COUNT: 'count()',
      MIN: 'toString(min(quantity))',
      MAX: 'toString(max(quantity))',
      AVG: `toString(${wideSum('quantity')} / count())`,
      LATEST: `toString(${RAW_LATEST})`,
    };
    return raw[aggregation]!;
  }
  const rollup: Partial<Record<Aggregation, string>> = {
    SUM: `toString(${wideSum('quantity_sum')})`,
    COUNT: 'sum(events)',
    MIN: 'toString(min(quantity_min))',
    MAX: 'toString(max(quantity_max))',
    AVG: `toString(${wideSum('quantity_sum')} / sum(events))`,
    LATEST: 'toString(argMaxMerge(latest_key))',
  };
  // The same quantileExact over the same multiset of quantities as the raw read: the state keeps every one.
  if (readsQuantities(aggregation, source)) return `toString(quantileExactMerge(${PERCENTILE[aggregation]!})(quantities))`;
  const expression = rollup[aggregation];
  if (!expression) throw new Error(`${aggregation} cannot be read from a rollup`);
  return expression;
}

/** Epoch ms of the local window start that holds time column `c`, in the bound time zone. */
function bucketExpression(granularity: Granularity, c: string): string {
  switch (granularity) {
    case 'minute':
      return `toUnixTimestamp(toStartOfMinute(${c})) * 1000`;
    case 'hour':
      return `toUnixTimestamp(toStartOfHour(${c}, {tz:String})) * 1000`;
    case 'day':
      return `toUnixTimestamp(toStartOfDay(${c}, {tz:String})) * 1000`;
    case 'week':
      return `toUnixTimestamp(toDateTime(toMonday(${c}, {tz:String}), {tz:String})) * 1000`;
    case 'month':
      return `toUnixTimestamp(toDateTime(toStartOfMonth(${c}, {tz:String}), {tz:String})) * 1000`;
    case 'total':
      return '{fromMs:Int64}';
  }
}

export interface UsageCell {
  bucketMs: number;
  customerId?: string | undefined;
  groups: string[];
  value: string | number;
}

/**
 * A rollup tier's read states no PREWHERE of its own. Its primary key (tenant, metric, customer, window start)
 * already narrows it to the granules it needs, so the engine's automatic PREWHERE (optimize_move_to_prewhere) only
 * adds a read step per part: measured 17-30% of the engine's time of a one-customer hourly read over 12-24 parts,
 * about 3 ms of a request (docs/benchmarks.md). Raw reads keep it (not measured without it): their conditions
 * filter rows within granules.
 */
export const TIER_READ_SETTINGS = { optimize_move_to_prewhere: 0 } as const;

const cellRow = z.looseObject({ bucket: z.coerce.number(), value: z.union([z.string(), z.number()]) });

/**
 * A cell's value as the API gives it: a count (COUNT, UNIQUE_COUNT) as a JSON number, refused from 2^53
 * (sql/count.ts: a double would round it), any other aggregation as the engine's exact decimal text.
 */
export function meterValue(aggregation: Aggregation, value: string | number): number | string {
  if (!countsAsInteger(aggregation)) return String(value);
  const parsed = count.safeParse(value);
  if (!parsed.success) throw new CountTooLargeError('meters.usage');
  return parsed.data;
}

/**
 * A raw read of one customer (meter usage here, the summary's raw windows): FINAL merges only the
 * rows of the identities that have a row matching `conditions` (tenant, customer, and the read's
 * metric and time range), instead of every row of those months (a P99 meter of one heavy customer
 * over a month of 5M rows: 1.5 s -> 0.66 s; of a light one: 1.6 s -> 0.16 s). Exact: the filter is
 * on event_id, a sorting key column, so every version and copy of a kept identity stays and FINAL
 * picks the same row; an identity none of whose rows matches cannot have a winner that matches,
 * and the read's WHERE after FINAL still decides. Customer, metric and time are the columns a
 * correction never changes (an amend changes quantity and dimensions), but the WHERE does not rely
 * on it. Dimensions stay out of `conditions`, for the WHERE: an amend may change them.
 */
export const onlyIdentitiesMatching = (database: string, conditions: string) =>
  `PREWHERE event_id IN (SELECT event_id FROM ${database}.${TABLES.usageEvents} WHERE ${conditions})`;

const ONE_CUSTOMER = `tenant_id = {tenantId:String} AND customer_id = {customerId:String} AND metric_name = {metricName:String}
    AND timestamp >= fromUnixTimestamp64Milli({fromMs:Int64}, 'UTC') AND timestamp < fromUnixTimestamp64Milli({toMs:Int64}, 'UTC')`;

/** A read's cells and where they came from: `q.source`, or raw events when the tier could not answer (meterUsage). */
export interface MeterUsageResult {
  cells: UsageCell[];
  source: UsageSource;
}

/**
 * One meter's values per window (and group). Rollup reads are exact because
 * reconciliation rewrites any window whose rollup differs from the deduplicated
 * raw data; raw reads are exact by FINAL. A percentile over tier rows that hold
 * fewer quantities than events (rows written before migration 23) is read again
 * from raw events, and the result says so.
 */
export async function meterUsage(db: Db, q: MeterUsageQuery, tags: QueryTags = {}): Promise<MeterUsageResult> {
  const cells = await readCells(db, q, tags);
  if (cells.every((c) => c.complete)) return { cells, source: q.source };
  const raw: UsageSource = { kind: 'raw' };
  return { cells: await readCells(db, { ...q, source: raw }, tags), source: raw };
}

async function readCells(db: Db, q: MeterUsageQuery, tags: QueryTags): Promise<(UsageCell & { complete: boolean })[]> {
  const raw = q.source.kind === 'raw';
  const table = q.source.kind === 'raw' ? `${TABLES.usageEvents} FINAL` : q.source.tier.table;
  const time = raw ? 'timestamp' : 'window_start';
  const params: Record<string, unknown> = { tenantId: q.tenantId, metricName: q.metricName, fromMs: q.fromMs, toMs: q.toMs, tz: q.tz };
  const select = [`${bucketExpression(q.granularity, time)} AS bucket`];
  const groupBy = ['bucket'];
  if (q.groupByCustomer) {
    select.push('customer_id');
    groupBy.push('customer_id');
  }
  q.groupBy.forEach((dimension, i) => {
    params[`g${i}`] = dimension;
    select.push(`dimensions[{g${i}:String}] AS g${i}`);
    groupBy.push(`g${i}`);
  });
  if (q.aggregation === 'UNIQUE_COUNT') params.uniqueDimension = q.uniqueDimension;
  select.push(`${valueExpression(q.aggregation, q.source)} AS value`);
  const counted = readsQuantities(q.aggregation, q.source);
  if (counted) select.push('sum(events) = sum(quantities_events) AS complete');

  const where = [
    'tenant_id = {tenantId:String}',
    'metric_name = {metricName:String}',
    `${time} >= fromUnixTimestamp64Milli({fromMs:Int64}, 'UTC')`,
    `${time} < fromUnixTimestamp64Milli({toMs:Int64}, 'UTC')`,
  ];
  // After FINAL: a voided event's latest version is deleted (rollups are reconciled to the same rule).
  if (raw) where.push('is_deleted = 0');
  if (q.customerId !== undefined) {
    params.customerId = q.customerId;
    where.push('customer_id = {customerId:String}');
  }
  q.filters.forEach((f, i) => {
    params[`fk${i}`] = f.dimension;
    params[`fv${i}`] = f.values;
    where.push(`dimensions[{fk${i}:String}] IN {fv${i}:Array(String)}`);
  });

  // Pages of groups: keyset on the group key, cells in (group, bucket) order, cut at maxCells.
  const groupKey = groupBy.slice(1);
  let order = '';
  if (q.page && groupKey.length > 0) {
    if (q.page.afterGroup) {
      if (q.page.afterGroup.length !== groupKey.length) throw new Error('afterGroup must have one value per grouped column');
      q.page.afterGroup.forEach((v, i) => (params[`after${i}`] = v));
      const keyExpressions = groupKey.map((k) => (k === 'customer_id' ? k : `dimensions[{${k}:String}]`));
      where.push(`tuple(${keyExpressions.join(', ')}) > tuple(${groupKey.map((_, i) => `{after${i}:String}`).join(', ')})`);
    }
    params.maxCells = q.page.maxCells;
    order = `\nORDER BY ${groupKey.join(', ')}, bucket\nLIMIT {maxCells:UInt64}`;
  }

  const sql = `SELECT ${select.join(', ')}\nFROM ${db.database}.${table}${raw && q.customerId !== undefined ? `\n${onlyIdentitiesMatching(db.database, ONE_CUSTOMER)}` : ''}\nWHERE ${where.join('\n  AND ')}\nGROUP BY ${groupBy.join(', ')}${order}`;
  const reader = raw ? db : { ...db, readSettings: { ...db.readSettings, ...TIER_READ_SETTINGS } };
  const rows = await runQuery(reader, `meters.usage.${raw ? 'raw' : q.source.kind === 'rollup' ? q.source.tier.name : ''}`, sql, params, cellRow, tags);
  return rows.map((r) => ({
    bucketMs: r.bucket,
    customerId: q.groupByCustomer ? String(r.customer_id) : undefined,
    groups: q.groupBy.map((_, i) => String(r[`g${i}`])),
    value: meterValue(q.aggregation, r.value),
    complete: !counted || Number(r.complete) === 1,
  }));
}
