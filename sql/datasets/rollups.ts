import { TABLES, mvName } from '../names.js';
import { createMaterializedView, createTable, onCluster, qualified, storageTable, type RenderTarget } from '../engines.js';
import { SUM_TYPE, wideSum } from '../decimals.js';
import { DAY_MS, HOUR_MS } from '../time.js';

/**
 * Rollups of usage_events per minute, hour and day (UTC windows), keyed by
 * tenant, metric, customer, window and the full dimension map. Each row holds
 * what every meter aggregation needs: event count, decimal sum, min, max and
 * the quantity of the newest event (argMax over (timestamp, event_id), keyed by one string since
 * migration 26: latestKey).
 * Because rows keep the whole dimension map, a distinct count of any one
 * dimension is exact from the rollup too. Percentiles are not decomposable: the
 * day tier also keeps every quantity of its rows (`quantities`, a quantileExact
 * state, since migration 23), and the other tiers' percentiles read raw events
 * (see sql/queries/meter-usage.ts).
 *
 * Exactness: each tier's MV sees every inserted block, so a duplicate that
 * reaches usage_events (Kafka redelivery, a second writer) or a correction is
 * counted by the MV. The reconciler (jobs/reconcile-rollups.ts) compares recent
 * windows with the deduplicated raw data and rewrites those that differ, using
 * the same SELECT as the MV (`rollupSelect`).
 *
 * Sums are Decimal(76, 9) (sql/decimals.ts): in the MV's SELECT, so a block
 * of extreme events cannot wrap, and in the state column, so merges cannot.
 */
export interface RollupTier {
  name: 'minute' | 'hour' | 'day';
  table: string;
  stepMs: number;
  /** The window start of a raw event time in this tier (UTC). */
  bucket: (column: string) => string;
  /**
   * Whether its rows keep every quantity (`quantities`, with `quantities_events` counting them), so that
   * percentiles read the tier (migration 23, quantitiesDdl). Only the day tier: a month's percentile of
   * one customer merges ~30 of its rows per dimension map instead of merging its events of every
   * granule of the month with FINAL.
   */
  quantities?: true;
}

/** The tier of that name. */
export const rollupTier = (name: RollupTier['name']): RollupTier => ROLLUP_TIERS.find((t) => t.name === name)!;

/** Days each rollup tier keeps (0: forever): its TTL and its view's filter (sql/retention.ts). */
export type TierRetention = Record<RollupTier['name'], number>;

/**
 * Per tier, the earliest window start (ms, product time) it still keeps, or undefined for a tier kept
 * forever. Older windows are deleted by the tier's TTL, and neither read (api/usage/plan.ts) nor
 * rewritten (sql/queries/reconcile-rewrite.ts); `now` only grows, so a window past the cut stays past it.
 */
export type TierKeptFrom = Partial<Record<RollupTier['name'], number>>;

export function tierKeptFrom(retention: TierRetention, productNowMs: number): TierKeptFrom {
  const out: TierKeptFrom = {};
  for (const { name } of ROLLUP_TIERS) if (retention[name] > 0) out[name] = productNowMs - retention[name] * DAY_MS;
  return out;
}

export const ROLLUP_TIERS: readonly RollupTier[] = [
  { name: 'minute', table: TABLES.usagePerMinute, stepMs: 60_000, bucket: (c) => `toStartOfMinute(${c})` },
  { name: 'hour', table: TABLES.usagePerHour, stepMs: HOUR_MS, bucket: (c) => `toStartOfHour(${c})` },
  { name: 'day', table: TABLES.usagePerDay, stepMs: DAY_MS, bucket: (c) => `toStartOfDay(${c})`, quantities: true },
];

// As released in migration 3: quantity_sum is widened by migration 11 (widenRollupSumsDdl). Migrations never change.
const rollupColumns = `    tenant_id LowCardinality(String),
    metric_name LowCardinality(String),
    customer_id String,
    dimensions Map(LowCardinality(String), String),
    window_start DateTime('UTC'),
    events SimpleAggregateFunction(sum, UInt64),
    quantity_sum SimpleAggregateFunction(sum, Decimal(38, 9)),
    quantity_min SimpleAggregateFunction(min, Decimal(38, 9)),
    quantity_max SimpleAggregateFunction(max, Decimal(38, 9)),
    latest AggregateFunction(argMax, Decimal(38, 9), Tuple(DateTime64(3, 'UTC'), String))`;

/** A raw event time's window start in `tier`, as the rollup's `window_start` column holds it. */
export const windowStart = (tier: RollupTier, column: string) => `toDateTime(${tier.bucket(column)}, 'UTC')`;

/**
 * The columns a tier's rows have had: the sum's expression (migration 3 summed in Decimal(38, 9),
 * migration 11 widened it) and whether the tier keeps its quantities (migration 23). Released
 * migrations render the shape they released; everything else renders the current one.
 */
export interface RollupShape {
  sum: string;
  quantities: boolean;
  /**
   * The newest event's state: `tuple`, argMax by (timestamp, event_id) in column `latest` (migration 3);
   * `key`, argMax by latestKey in column `latest_key` (migration 26); `both`, while migration 26 converts.
   */
  latest: 'tuple' | 'key' | 'both';
}

const currentShape = (tier: RollupTier): RollupShape => ({ sum: wideSum('quantity'), quantities: tier.quantities === true, latest: 'key' });

// Each state, as released: migration 3 (Decimal(38, 9) sums, which wrap), migration 11 (wide sums), migration 23 (quantities).
const RELEASED_3: RollupShape = { sum: 'sum(quantity)', quantities: false, latest: 'tuple' };
const RELEASED_11: RollupShape = { sum: wideSum('quantity'), quantities: false, latest: 'tuple' };
const RELEASED_23: RollupShape = { sum: wideSum('quantity'), quantities: true, latest: 'tuple' };

/** The state of the newest event's quantity since migration 26 (LATEST reads merge it: `argMaxMerge(latest_key)`). */
export const LATEST_KEY_TYPE = 'AggregateFunction(argMax, Decimal(38, 9), String)';
const LATEST_TUPLE_TYPE = "AggregateFunction(argMax, Decimal(38, 9), Tuple(DateTime64(3, 'UTC'), String))";

/**
 * An Int64 expression as a UInt64 in the same order: its bits with the sign bit flipped, so that unsigned comparison
 * orders as the signed values do (negative values first). Used by latestKey and by the close's LOG_ROW_RANK.
 */
export const orderedUnsigned = (int64: string) => `bitXor(reinterpretAsUInt64(${int64}), toUInt64(9223372036854775808))`;

/**
 * One string that orders events as the tuple (timestamp, event_id) does: the event time in
 * milliseconds as 8 bytes, big-endian, its sign bit flipped (so byte order is numeric order, times
 * before 1970 included), then the event id's bytes. Strings compare byte by byte, then by length; the
 * first 8 bytes always have that length, so two keys compare by time first and, at the same
 * millisecond, as their event ids compare: the tuple's order, which defines LATEST. Raw LATEST reads and the
 * reconciler's raw side take argMax by this key too (`RAW_LATEST`, sql/queries/meter-usage.ts).
 *
 * Why: the engine keeps an argMax state by a tuple in a generic form (each value a boxed field, each
 * comparison through it), by a string in a plain buffer. The engine's INSERT ... SELECT of 1M bench
 * events through the four views took 13.0-15.7 s with the tuple and 8.8-11.3 s with this key, three
 * rounds each (docs/benchmarks.md).
 */
export const latestKey = (timestampMs: string, eventId: string) => `concat(reverse(reinterpretAsFixedString(${orderedUnsigned(timestampMs)})), ${eventId})`;

function latestStates(shape: RollupShape): string {
  const tuple = 'argMaxState(quantity, (timestamp, event_id)) AS latest';
  const key = `argMaxState(quantity, ${latestKey('toUnixTimestamp64Milli(timestamp)', 'event_id')}) AS latest_key`;
  if (shape.latest === 'tuple') return tuple;
  return shape.latest === 'key' ? key : `${tuple}, ${key}`;
}

// The quantity of every event (as quantileExact keeps them: every percentile of any level merges the same
// state) and how many events that state holds. Rows written before migration 23 hold none (0 events in
// `quantities_events`, while `events` counts them): a read sees that and answers from raw events.
const QUANTITIES_COLUMNS = ['quantities AggregateFunction(quantileExact, Decimal(38, 9))', 'quantities_events SimpleAggregateFunction(sum, UInt64)'];

/**
 * The one SELECT that turns raw events into rollup rows, in the target's column
 * order (MVs write positionally). Used by the MVs and by reconciliation rewrites.
 */
export function rollupSelect(tier: RollupTier, source: string, where = '', shape: RollupShape = currentShape(tier)): string {
  const quantities = shape.quantities ? ',\n    quantileExactState(quantity) AS quantities, count() AS quantities_events' : '';
  return `SELECT tenant_id, metric_name, customer_id, dimensions,
    ${windowStart(tier, 'timestamp')} AS window_start,
    count() AS events, ${shape.sum} AS quantity_sum, min(quantity) AS quantity_min, max(quantity) AS quantity_max,
    ${latestStates(shape)}${quantities}
FROM ${source}${where ? `\nWHERE ${where}` : ''}
GROUP BY tenant_id, metric_name, customer_id, dimensions, window_start`;
}

export function rollupsDdl(t: RenderTarget): string[] {
  return ROLLUP_TIERS.flatMap((tier) => [
    ...createTable(t, {
      table: tier.table,
      columns: rollupColumns,
      engine: 'AggregatingMergeTree',
      dist: { kind: 'sharded', shardingKey: 'cityHash64(tenant_id, customer_id)' },
      tail: 'PARTITION BY toYYYYMM(window_start)\nORDER BY (tenant_id, metric_name, customer_id, window_start, dimensions)',
    }),
    createMaterializedView(t, {
      name: mvName(tier.table),
      to: tier.table,
      from: TABLES.usageEvents,
      select: (source) => rollupSelect(tier, source, '', RELEASED_3),
    }),
  ]);
}

/**
 * Widen each tier's sum to Decimal(76, 9): the state column (a mutation that
 * converts existing rows, which keep their values; on a cluster the sharded
 * storage and the Distributed table over it), then the MV's SELECT (ALTER ...
 * MODIFY QUERY, never a re-created view, so no insert is missed). Idempotent:
 * modifying a column to the type it has, or a view to its query, changes nothing.
 */
export function widenRollupSumsDdl(t: RenderTarget): string[] {
  return ROLLUP_TIERS.flatMap((tier) => {
    const tables = t.cluster ? [storageTable(t, tier.table), tier.table] : [tier.table];
    return [
      ...tables.map((table) => `ALTER TABLE ${qualified(t, table)}${onCluster(t)} MODIFY COLUMN quantity_sum SimpleAggregateFunction(sum, ${SUM_TYPE})`),
      `ALTER TABLE ${qualified(t, mvName(tier.table))}${onCluster(t)} MODIFY QUERY
${rollupSelect(tier, qualified(t, storageTable(t, TABLES.usageEvents)), '', RELEASED_11)}`,
    ];
  });
}

/**
 * Migration 23: the tiers that keep quantities (the day tier) get `quantities` and
 * `quantities_events` (columns first, on a cluster the sharded storage and the Distributed table
 * over it; then the view's SELECT, with ALTER ... MODIFY QUERY, so no insert is missed). Rows
 * written before it hold no quantities and say so (`quantities_events` 0); the reconciler's
 * rewrites and new inserts write both. Idempotent.
 */
export function quantitiesDdl(t: RenderTarget): string[] {
  return ROLLUP_TIERS.filter((tier) => tier.quantities).flatMap((tier) => {
    const tables = t.cluster ? [storageTable(t, tier.table), tier.table] : [tier.table];
    const columns = QUANTITIES_COLUMNS.map((c) => `ADD COLUMN IF NOT EXISTS ${c}`).join(', ');
    return [
      ...tables.map((table) => `ALTER TABLE ${qualified(t, table)}${onCluster(t)} ${columns}`),
      `ALTER TABLE ${qualified(t, mvName(tier.table))}${onCluster(t)} MODIFY QUERY
${rollupSelect(tier, qualified(t, storageTable(t, TABLES.usageEvents)), '', RELEASED_23)}`,
    ];
  });
}

export function reconcileStateDdl(t: RenderTarget): string[] {
  return createTable(t, {
    table: TABLES.rollupReconcileState,
    columns: `    name String,
    watermark_ms Int64,
    version UInt64`,
    engine: 'ReplacingMergeTree',
    engineArgs: ['version'],
    dist: { kind: 'everywhere' },
    tail: 'ORDER BY name',
  });
}

/** The day tier's projection per customer, metric and UTC month (customerMonthDdl). */
export const CUSTOMER_MONTH_PROJECTION = 'per_customer_month';

/**
 * A projection of the day tier per tenant, metric, customer and UTC month: its events and sums
 * without the dimension map or the days. A month's summary of a whole tenant groups one row per
 * customer, metric and part instead of one per day and dimension map (2.5M rows for 5,000
 * customers at 10M events; 31 times fewer here). The engine keeps it with each part: built
 * on insert, rebuilt when parts merge (the aggregating merge sums rows, so the projection of the
 * merged part is computed again: `deduplicate_merge_projection_mode`) and when the reconciler's
 * DELETE rewrites a window (`lightweight_mutation_projection_mode`), so it is exact whenever the
 * tier is. Parts written before this migration read their rows until the MATERIALIZE mutation
 * reaches them (the engine reads each part from the projection or from its rows). Additive: no
 * column, key or view changes.
 */
export function customerMonthDdl(t: RenderTarget): string[] {
  const table = qualified(t, storageTable(t, TABLES.usagePerDay));
  return [
    `ALTER TABLE ${table}${onCluster(t)} MODIFY SETTING deduplicate_merge_projection_mode = 'rebuild', lightweight_mutation_projection_mode = 'rebuild'`,
    `ALTER TABLE ${table}${onCluster(t)} ADD PROJECTION IF NOT EXISTS ${CUSTOMER_MONTH_PROJECTION} (
SELECT tenant_id, metric_name, customer_id, toStartOfMonth(window_start), sum(events), sum(quantity_sum)
GROUP BY tenant_id, metric_name, customer_id, toStartOfMonth(window_start))`,
    `ALTER TABLE ${table}${onCluster(t)} MATERIALIZE PROJECTION ${CUSTOMER_MONTH_PROJECTION}`,
  ];
}

/**
 * An old `latest` state (argMax by (timestamp, event_id)) as a `latest_key` state of the same event:
 * its quantity (finalizeAggregation) by the latestKey of its time and id, read from the state's
 * bytes. The engine writes the state as: 1 byte "has a value", the Decimal128 (16 bytes), 1 byte
 * "has a key", the DateTime64 (8 bytes, little-endian), the event id (its length as a varint, then its
 * bytes). Stored states must stay readable across engine versions, so this layout does not change
 * under a release; should it, the conversion refuses (throwIf: a state that is not this layout stops
 * the migration), it never writes a wrong key. test/latest-key.test.ts checks it on the engines.
 */
export function convertedLatest(column = 'latest'): string {
  const bytes = `CAST(${column}, 'String')`;
  const byte = (at: number) => `reinterpretAsUInt8(substring(${bytes}, ${at}, 1))`;
  const varintBytes = `if(${byte(27)} < 128, 1, if(${byte(28)} < 128, 2, 3))`;
  const idLength = `if(${byte(27)} < 128, ${byte(27)}, if(${byte(28)} < 128, ${byte(27)} - 128 + ${byte(28)} * 128, ${byte(27)} - 128 + (${byte(28)} - 128) * 128 + ${byte(29)} * 16384))`;
  const id = `substring(${bytes}, 27 + ${varintBytes})`;
  const layout = `${byte(1)} = 1 AND ${byte(18)} = 1 AND length(${bytes}) >= 27 AND length(${id}) = ${idLength} AND (${byte(27)} < 128 OR ${byte(28)} < 128 OR ${byte(29)} < 128)`;
  const key = latestKey(`reinterpretAsInt64(substring(${bytes}, 19, 8))`, id);
  return `arrayReduce('argMaxState', [finalizeAggregation(${column})], [if(throwIf(NOT (${layout}), 'a LATEST state is not in the layout migration 26 converts') = 0, ${key}, '')])`;
}

/** Whether an old `latest` state holds an event (an empty state is the two bytes 00 00). */
const latestHoldsEvent = (column = 'latest') => `startsWith(CAST(${column}, 'String'), unhex('01'))`;

/**
 * Migration 26: each tier's newest-event state keyed by one string (latestKey) instead of a tuple, in
 * column `latest_key`; `latest` is dropped. Every step is idempotent and no insert is missed, with
 * inserts going on beside it (a cluster's Kafka tables):
 * 1. both columns exist (`latest` again, empty, should a run have stopped after step 5);
 * 2. the views write both states;
 * 3. every row whose `latest` holds an event gets it converted into `latest_key` (a mutation, waited
 *    for; rows the views wrote since step 2 get the state they already have); parts written after it
 *    are written by the views of step 2;
 * 4. the views write `latest_key` only;
 * 5. `latest` is dropped.
 * On a cluster: the sharded storage and the Distributed table over it (columns), the storage (the
 * mutation). LATEST reads merge `latest_key` from here on.
 */
export function latestKeyDdl(t: RenderTarget): string[] {
  const views = (latest: RollupShape['latest']) =>
    ROLLUP_TIERS.map(
      (tier) =>
        `ALTER TABLE ${qualified(t, mvName(tier.table))}${onCluster(t)} MODIFY QUERY
${rollupSelect(tier, qualified(t, storageTable(t, TABLES.usageEvents)), '', { sum: wideSum('quantity'), quantities: tier.quantities === true, latest })}`,
    );
  const tablesOf = (tier: RollupTier) => (t.cluster ? [storageTable(t, tier.table), tier.table] : [tier.table]);
  return [
    ...ROLLUP_TIERS.flatMap((tier) =>
      tablesOf(tier).map(
        (table) =>
          `ALTER TABLE ${qualified(t, table)}${onCluster(t)} ADD COLUMN IF NOT EXISTS latest ${LATEST_TUPLE_TYPE} AFTER quantity_max, ADD COLUMN IF NOT EXISTS latest_key ${LATEST_KEY_TYPE} AFTER latest`,
      ),
    ),
    ...views('both'),
    ...ROLLUP_TIERS.map(
      (tier) =>
        `ALTER TABLE ${qualified(t, storageTable(t, tier.table))}${onCluster(t)} UPDATE latest_key = ${convertedLatest()} WHERE ${latestHoldsEvent()} SETTINGS mutations_sync = 2`,
    ),
    ...views('key'),
    ...ROLLUP_TIERS.flatMap((tier) => tablesOf(tier).map((table) => `ALTER TABLE ${qualified(t, table)}${onCluster(t)} DROP COLUMN IF EXISTS latest`)),
  ];
}
