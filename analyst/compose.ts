import { withSettings } from '../sql/query.js';
import { TENANT_PARAM, VIRTUAL_TABLES } from './virtual-schema.js';
import { RESERVED_PARAM_PREFIX } from './guard.js';

export const SQL_FORMATS = ['json', 'jsonl', 'csv', 'parquet'] as const;
export type SqlFormat = (typeof SQL_FORMATS)[number];

/** The engine's format for each request format (json: ClickHouse's JSON, which carries meta and statistics). */
export const ENGINE_FORMAT: Record<SqlFormat, string> = { json: 'JSON', jsonl: 'JSONEachRow', csv: 'CSVWithNames', parquet: 'Parquet' };

/** Engine bounds of one analyst query (per tenant; names match the tenant limits). */
export interface SqlQueryLimits {
  sqlMaxExecutionSeconds: number;
  sqlMaxRowsToRead: number;
  sqlMaxBytesToRead: number;
  sqlMaxMemoryBytes: number;
  sqlMaxResultRows: number;
  /** Threads and OS niceness of the query's engine threads (READ_MAX_THREADS, READ_OS_THREAD_PRIORITY): ingest gets the CPU first. */
  maxThreads: number;
  osThreadPriority: number;
}

export const LIMIT_PARAM = `${RESERVED_PARAM_PREFIX}limit`;
/** The row number column the streamed formats count with; refused past the limit by throwIf. */
const ROW_COLUMN = `${RESERVED_PARAM_PREFIX}row`;
export const OVER_LIMIT_MARK = 'meterhouse: more rows than sqlMaxResultRows';

/**
 * The statement that runs: every virtual table as a CTE over its storage for
 * the caller's tenant (bound), the analyst's canonical query as a subquery,
 * a row bound, and the limits in this statement's own SETTINGS (never SET,
 * which would stick to the connection; readonly=1 so nothing writes).
 *
 * Rows: json reads sqlMaxResultRows + 1 rows and reports `truncated`; the
 * streamed formats cannot be cut after the fact, so a result longer than the
 * limit fails (throwIf on the row number) instead of arriving cut short. They
 * also read at most sqlMaxResultRows + 1 rows: of that many distinct row
 * numbers one is at least the limit, so the check fails exactly when the
 * answer is longer. The LIMIT also keeps the check where it is: without it the
 * engine pushed the check down into the analyst's own WHERE, where it numbered
 * the rows before they were filtered and refused short answers of long scans.
 */
export function composeQuery(database: string, canonical: string, format: SqlFormat, limits: SqlQueryLimits): string {
  const ctes = VIRTUAL_TABLES.map((t) => `${t.name} AS (${t.body(database)})`).join(',\n');
  const body =
    format === 'json'
      ? `SELECT * FROM (${canonical}) LIMIT {${LIMIT_PARAM}:UInt64}`
      : `SELECT * EXCEPT (${ROW_COLUMN}) FROM (SELECT *, rowNumberInAllBlocks() AS ${ROW_COLUMN} FROM (${canonical}) LIMIT {${LIMIT_PARAM}:UInt64})
WHERE throwIf(${ROW_COLUMN} >= {${LIMIT_PARAM}:UInt64} - 1, '${OVER_LIMIT_MARK}') = 0`;
  const settings = withSettings(`WITH\n${ctes}\n${body}`, {
    readonly: 1,
    max_execution_time: limits.sqlMaxExecutionSeconds,
    timeout_overflow_mode: 'throw',
    max_rows_to_read: limits.sqlMaxRowsToRead,
    max_bytes_to_read: limits.sqlMaxBytesToRead,
    read_overflow_mode: 'throw',
    max_memory_usage: limits.sqlMaxMemoryBytes,
    max_threads: limits.maxThreads,
    os_thread_priority: limits.osThreadPriority,
    // FINAL's WHERE (is_deleted) must stay after the merge: never moved to PREWHERE (sql/datasets/corrections.ts).
    optimize_move_to_prewhere_if_final: 0,
    allow_introspection_functions: 0,
  });
  return `${settings}\nFORMAT ${ENGINE_FORMAT[format]}`;
}

/** The bound parameters of the composed statement: the analyst's, the tenant, the row bound. */
export function composedParams(params: Record<string, unknown>, tenantId: string, limits: SqlQueryLimits): Record<string, unknown> {
  return { ...params, [TENANT_PARAM]: tenantId, [LIMIT_PARAM]: limits.sqlMaxResultRows + 1 };
}
