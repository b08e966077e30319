import type { ClickHouseClient } from '@clickhouse/client';
import { composedParams, composeQuery, OVER_LIMIT_MARK, type SqlFormat, type SqlQueryLimits } from './compose.js';
import { guardQuery, type SqlParamValue } from './guard.js';
import { SqlError, sqlErrorOf } from './errors.js';

export interface SqlStatistics {
  elapsedMs: number;
  /** null where the engine does not tell: chdb's summary reports result rows, not rows read, so streamed formats on the embedded engine. */
  rowsRead: number | null;
  bytesRead: number | null;
}

export interface SqlAnswer {
  /** The engine's bytes (json: ClickHouse's JSON document). */
  bytes: Buffer;
  statistics: SqlStatistics;
}

/** The engine itself failed (not the analyst's query): 503. */
export class SqlEngineError extends Error {
  override readonly name = 'SqlEngineError';
}

export interface SqlRun {
  tenantId: string;
  query: string;
  params: Record<string, SqlParamValue>;
  format: SqlFormat;
  limits: SqlQueryLimits;
  /** The answer's bytes are collected up to this; past it the query fails (a limit). */
  maxResultBytes: number;
  /** Whether the connection's summary reports rows and bytes read (a server's X-ClickHouse-Summary; not chdb's). */
  summaryReadsRows: boolean;
  /** Written into log_comment so system.query_log finds the query. */
  tags: { requestId: string; keyId: string };
}

async function collect(stream: AsyncIterable<unknown>, maxBytes: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    const buffer = Buffer.from(chunk as Uint8Array);
    size += buffer.length;
    if (size > maxBytes)
      throw new SqlError('limit', `the answer passed SQL_MAX_RESULT_BYTES=${maxBytes} bytes: select fewer columns or rows`, {
        limit: 'SQL_MAX_RESULT_BYTES',
        value: maxBytes,
      });
    chunks.push(buffer);
  }
  return Buffer.concat(chunks);
}

/**
 * Guard, then run an analyst query on the analyst connection (`client`, used
 * for nothing else: its current database is empty), under the tenant's limits.
 */
export async function runAnalystQuery(client: ClickHouseClient, database: string, run: SqlRun): Promise<SqlAnswer> {
  const { canonical } = await guardQuery(client, database, run.query, run.params);
  const started = performance.now();
  try {
    const { stream, summary } = await client.exec({
      query: composeQuery(database, canonical, run.format, run.limits),
      query_params: composedParams(run.params, run.tenantId, run.limits),
      clickhouse_settings: { log_comment: JSON.stringify({ name: 'sql.analyst', tenantId: run.tenantId, ...run.tags }) },
    });
    const bytes = await collect(stream, run.maxResultBytes);
    const known = run.summaryReadsRows && summary !== undefined;
    const statistics = {
      elapsedMs: Math.round(performance.now() - started),
      rowsRead: known ? Number(summary.read_rows) : null,
      bytesRead: known ? Number(summary.read_bytes) : null,
    };
    return { bytes, statistics };
  } catch (error) {
    if (error instanceof SqlError) throw error;
    const sqlError = sqlErrorOf(error, database, { ...run.limits });
    if (!sqlError) throw new SqlEngineError('the engine could not run the query', { cause: error });
    if (sqlError.message.includes(OVER_LIMIT_MARK)) {
      throw new SqlError(
        'limit',
        `the answer has more than sqlMaxResultRows=${run.limits.sqlMaxResultRows} rows: add a LIMIT or aggregate, or use format "json", which returns the first rows with truncated: true`,
        { limit: 'sqlMaxResultRows', value: run.limits.sqlMaxResultRows },
      );
    }
    throw sqlError;
  }
}
