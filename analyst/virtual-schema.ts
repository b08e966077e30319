import { TABLES } from '../sql/names.js';

/**
 * The tables an analyst sees. These names and columns are the contract; the
 * storage behind them may change. Each is one CTE of the query that runs
 * (analyst/compose.ts), reading its storage table for the caller's tenant
 * only (`{mh_tenant:String}`, bound, never spliced).
 */
export interface VirtualColumn {
  name: string;
  /** The ClickHouse type the analyst gets (a test compares it with DESCRIBE of the body). */
  type: string;
  description: string;
}

export interface VirtualTable {
  name: string;
  description: string;
  /** The storage tables it reads (the server-mode analyst user is granted SELECT on exactly these). */
  storage: string[];
  columns: VirtualColumn[];
  /** The SELECT that defines it over `database`; it filters on the tenant parameter. */
  body(database: string): string;
}

/** The bound parameter that holds the caller's tenant in every virtual table. */
export const TENANT_PARAM = 'mh_tenant';
const TENANT = `tenant_id = {${TENANT_PARAM}:String}`;

const col = (name: string, type: string, description: string): VirtualColumn => ({ name, type, description });
const T3 = "DateTime64(3, 'UTC')";
/**
 * Quantities reach the analyst as Decimal(76, 9) (sql/decimals.ts): the engine's
 * sum of a Decimal(38, 9) stays Decimal(38, 9) and wraps silently past ~1.7e29,
 * so a plain sum(quantity) would disagree with the product. Widened here, any
 * sum an analyst writes is exact.
 */
const WIDE = (column: string) => `toDecimal256(${column}, 9) AS ${column}`;
const expressions: Record<string, string> = { quantity: WIDE('quantity') };
const list = (columns: VirtualColumn[]) => columns.map((c) => expressions[c.name] ?? c.name).join(', ');
const select = (columns: VirtualColumn[], from: string, where: string, tail = '') => `SELECT ${list(columns)} FROM ${from} WHERE ${where}${tail}`;

const eventColumns = [
  col('event_id', 'String', 'The idempotency key: unique per tenant'),
  col('customer_id', 'String', 'The customer the event is billed to'),
  col('product_id', 'String', "The product, '' when none was sent"),
  col('metric_name', 'LowCardinality(String)', 'What was measured'),
  col('timestamp', T3, 'Event time (UTC); periods and windows are half-open [start, end) on it'),
  col('quantity', 'Decimal(76, 9)', 'The quantity, exactly as sent; Decimal(76, 9) so that any sum of it is exact (never wraps)'),
  col('dimensions', 'Map(LowCardinality(String), String)', "Dimensions; read one with dimensions['region']"),
  col('source', 'String', 'metadata.source'),
  col('source_version', 'String', 'metadata.version'),
  col('request_id', 'String', 'metadata.requestId'),
  col('ingested_at', T3, 'When the API received it'),
  col('stored_at', T3, 'When storage committed it (billing cut-offs use this)'),
];

const rollupColumns = [
  col('metric_name', 'LowCardinality(String)', 'What was measured'),
  col('customer_id', 'String', 'The customer'),
  col('dimensions', 'Map(LowCardinality(String), String)', 'The full dimension map of the events in the row'),
  col('window_start', "DateTime('UTC')", 'Start of the UTC window [window_start, window_start + step)'),
  col('events', 'UInt64', 'Events in the window'),
  col('quantity_sum', 'Decimal(76, 9)', 'Sum of quantities'),
  col('quantity_min', 'Decimal(76, 9)', 'Smallest quantity'),
  col('quantity_max', 'Decimal(76, 9)', 'Largest quantity'),
  col('latest_quantity', 'Decimal(76, 9)', 'Quantity of the newest event (by timestamp, then event_id)'),
];

const ROLLUP_CONTRACT =
  'Exactness: rows are written as events arrive, so a redelivered duplicate or a correction can be counted here until the reconciler rewrites the window ' +
  '(ROLLUP_RECONCILE_CRON, recent windows); windows older than the rollup retention are gone. Exact numbers (billing) come from `events`.';

function rollup(name: string, table: string, step: string): VirtualTable {
  return {
    name,
    description: `Usage per ${step} (UTC), one row per metric, customer, dimensions and window. ${ROLLUP_CONTRACT}`,
    storage: [table],
    columns: rollupColumns,
    // FINAL: one row per key (partial rows of the AggregatingMergeTree merged); plain types, not the storage's aggregate ones.
    body: (db) =>
      `SELECT metric_name, customer_id, dimensions, window_start, CAST(events, 'UInt64') AS events, CAST(quantity_sum, 'Decimal(76, 9)') AS quantity_sum,
       CAST(quantity_min, 'Decimal(76, 9)') AS quantity_min, CAST(quantity_max, 'Decimal(76, 9)') AS quantity_max, toDecimal256(finalizeAggregation(latest_key), 9) AS latest_quantity
       FROM ${db}.${table} FINAL WHERE ${TENANT}`,
  };
}

export const VIRTUAL_TABLES: readonly VirtualTable[] = [
  {
    name: 'events',
    description: 'Usage events as every number of the product counts them: one row per event id (deduplicated), its latest version, voided events left out.',
    storage: [TABLES.usageEvents],
    columns: eventColumns,
    // FINAL, then is_deleted: the exactness of GET /v1/usage/summary (sql/queries/events.ts).
    body: (db) => select(eventColumns, `${db}.${TABLES.usageEvents} FINAL`, `${TENANT} AND is_deleted = 0`),
  },
  {
    name: 'event_versions',
    description: 'Every stored version of every event (originals, amendments, voids), oldest first per event; a redelivery of one version is one row.',
    storage: [TABLES.usageEventLog],
    columns: [
      ...eventColumns,
      col('version', 'UInt64', 'Orders the versions of one event (1 for an original, a microsecond clock for corrections)'),
      col('is_deleted', 'UInt8', '1 for a void'),
      col('changed_by', 'String', "The key id that made the correction ('' for an original)"),
    ],
    // The log keeps redeliveries: one row per (event, version), its first stored copy.
    body: (db) =>
      `SELECT ${list(eventColumns)}, version, is_deleted, changed_by FROM ${db}.${TABLES.usageEventLog} WHERE ${TENANT} ORDER BY event_id, version, stored_at LIMIT 1 BY event_id, version`,
  },
  rollup('usage_minute', TABLES.usagePerMinute, 'minute'),
  rollup('usage_hour', TABLES.usagePerHour, 'hour'),
  rollup('usage_day', TABLES.usagePerDay, 'day'),
  {
    name: 'customers',
    description: 'Customers registered through /v1/customers, in their latest version.',
    storage: [TABLES.billingCustomers],
    columns: [
      col('customer_id', 'String', 'The customer id events carry'),
      col('name', 'String', 'Display name'),
      col('timezone', 'String', 'IANA time zone of its billing periods'),
      col('cycle_interval', 'LowCardinality(String)', 'month, week or day'),
      col('anchor_day', 'UInt8', 'Day of month (or ISO weekday) a period starts'),
      col('created_at', T3, 'Created'),
      col('updated_at', T3, 'Last changed'),
    ],
    body: (db) =>
      `SELECT customer_id, name, timezone, cycle_interval, anchor_day, created_at, updated_at FROM ${db}.${TABLES.billingCustomers} FINAL WHERE ${TENANT}`,
  },
  {
    name: 'meters',
    description: 'Meter definitions in their latest version; deleted meters left out.',
    storage: [TABLES.meters],
    columns: [
      col('meter_key', 'String', 'The meter key'),
      col('definition', 'String', "The definition as JSON (read fields with JSONExtractString(definition, 'aggregation'))"),
      col('created_at', T3, 'Created'),
      col('updated_at', T3, 'Last changed'),
    ],
    body: (db) => `SELECT meter_key, definition, created_at, updated_at FROM ${db}.${TABLES.meters} FINAL WHERE ${TENANT} AND is_deleted = 0`,
  },
  {
    name: 'billing_exports',
    description: 'Closed-period exports: one row per export, immutable.',
    storage: [TABLES.billingExports],
    columns: [
      col('sequence', 'UInt64', 'The export number (1, 2, ...)'),
      col('export_id', 'String', 'The export id of /v1/billing/exports'),
      col('created_at', T3, 'When the export was made'),
      col('cutoff', T3, 'Events stored before this instant are in it'),
      col('line_count', 'UInt64', 'Lines in the export'),
      col('checksum', 'String', 'Checksum of its lines'),
    ],
    body: (db) => `SELECT sequence, export_id, created_at, cutoff, line_count, checksum FROM ${db}.${TABLES.billingExports} FINAL WHERE ${TENANT}`,
  },
  {
    name: 'billing_export_lines',
    description: "The lines of every export; an 'adjustment' line corrects an earlier period.",
    storage: [TABLES.billingExportLines],
    columns: [
      col('sequence', 'UInt64', 'The export it belongs to (billing_exports.sequence)'),
      col('customer_id', 'String', 'The customer'),
      col('meter_key', 'String', 'The meter'),
      col('period_start', T3, 'Start of the period the line is for'),
      col('period_end', T3, 'End of the period (exclusive)'),
      col('kind', 'LowCardinality(String)', "'usage' or 'adjustment'"),
      col('value', 'Decimal(76, 9)', 'The billed value'),
      col('events', 'Int64', 'Events behind the value'),
    ],
    body: (db) =>
      `SELECT sequence, customer_id, meter_key, period_start, period_end, kind, value, events FROM ${db}.${TABLES.billingExportLines} FINAL WHERE ${TENANT}`,
  },
  {
    name: 'dead_letters',
    description: 'Kafka messages attributed to the tenant that were refused, with the raw bytes and the error (one row per message; the latest replay mark).',
    storage: [TABLES.usageDeadLetters],
    columns: [
      col('topic', 'LowCardinality(String)', 'Kafka topic'),
      col('partition', 'Int64', 'Kafka partition'),
      col('offset', 'Int64', 'Kafka offset'),
      col('raw_message', 'String', 'The message, byte for byte'),
      col('error', 'String', 'Why it was refused'),
      col('received_at', T3, 'Kafka message time'),
      col('dead_lettered_at', T3, 'When it was stored here'),
      col('replayed_at', `Nullable(${T3})`, 'When it was replayed, if it was'),
      col('replayed_event_id', 'String', "The event id of the replay, '' if none"),
    ],
    body: (db) =>
      `SELECT topic, partition, offset, raw_message, error, received_at, dead_lettered_at, replayed_at, replayed_event_id FROM ${db}.${TABLES.usageDeadLetters} FINAL WHERE ${TENANT}`,
  },
];

export const VIRTUAL_NAMES: ReadonlySet<string> = new Set(VIRTUAL_TABLES.map((t) => t.name));
