import { TABLES } from '../names.js';
import { createTable, onCluster, qualified, type RenderTarget } from '../engines.js';
import { assertIdentifier } from '../names.js';

/**
 * The analyst's current database: empty, and kept empty (nothing of ours ever
 * creates a table in it). The analyst connection runs in it, so a table name
 * that is neither a virtual table nor one of the query's own CTEs resolves
 * here and fails, instead of reaching meterhouse's storage.
 */
export const analystDatabase = (database: string) => `${database}_sql`;

/** The tenant limits of analyst queries (NULL: the configured default), as tenants columns. */
export const SQL_LIMIT_COLUMNS = {
  sqlMaxExecutionSeconds: 'sql_max_execution_seconds Nullable(UInt32)',
  sqlMaxRowsToRead: 'sql_max_rows_to_read Nullable(UInt64)',
  sqlMaxBytesToRead: 'sql_max_bytes_to_read Nullable(UInt64)',
  sqlMaxMemoryBytes: 'sql_max_memory_bytes Nullable(UInt64)',
  sqlMaxResultRows: 'sql_max_result_rows Nullable(UInt32)',
  sqlConcurrentQueries: 'sql_concurrent_queries Nullable(UInt32)',
} as const;

/**
 * Migration 16: the analyst's empty database, the query history, and the
 * tenants' analyst limits. analyst_queries is append-only, one row per query
 * (refused ones too); the query text is kept as sent. result_rows is NULL
 * where the answer's bytes do not tell (csv, parquet); rows_read and bytes_read
 * where the engine does not (streamed formats on the embedded engine).
 */
export function analystSqlDdl(t: RenderTarget): string[] {
  return [
    `CREATE DATABASE IF NOT EXISTS ${analystDatabase(assertIdentifier('database', t.database))}${onCluster(t)}`,
    `ALTER TABLE ${qualified(t, TABLES.tenants)}${onCluster(t)} ${Object.values(SQL_LIMIT_COLUMNS)
      .map((c) => `ADD COLUMN IF NOT EXISTS ${c}`)
      .join(', ')}`,
    ...createTable(t, {
      table: TABLES.analystQueries,
      columns: `    tenant_id String,
    query_id String,
    key_id String,
    started_at DateTime64(3, 'UTC'),
    duration_ms UInt32,
    rows_read Nullable(UInt64),
    bytes_read Nullable(UInt64),
    result_rows Nullable(UInt64),
    format LowCardinality(String),
    status LowCardinality(String),
    error String,
    query String`,
      engine: 'MergeTree',
      dist: { kind: 'everywhere' },
      tail: 'ORDER BY (tenant_id, started_at, query_id)',
    }),
  ];
}

/**
 * Migration 21: which SQL console link ran a query ('' : a key's own call).
 * key_id stays the key, also for a console query: the key that minted the link.
 */
export function analystConsoleLinkDdl(t: RenderTarget): string[] {
  // A table kept 'everywhere' is one replicated table on each node (no Distributed one to alter too).
  return [`ALTER TABLE ${qualified(t, TABLES.analystQueries)}${onCluster(t)} ADD COLUMN IF NOT EXISTS link_id String DEFAULT '' AFTER key_id`];
}
