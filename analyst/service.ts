import { randomUUID } from 'node:crypto';
import type { ClickHouseClient } from '@clickhouse/client';
import type { Db } from '../sql/query.js';
import { analystDatabase } from '../sql/datasets/analyst.js';
import { recordAnalystQuery, type AnalystQueryRecord } from '../sql/queries/analyst.js';
import { ReadSlots, type TenantLimits } from '../access/limits.js';
import type { AuditLog } from '../access/audit.js';
import { SqlError } from './errors.js';
import { runAnalystQuery, type SqlAnswer, type SqlStatistics } from './run.js';
import type { SqlFormat } from './compose.js';
import type { SqlParamValue } from './guard.js';

/** Leases analyst connections one per query, with a bounded queue (api/read-gate.ts's ReadGate). */
export interface ConnectionGate {
  acquire(): Promise<Db>;
  release(connection: Db): void;
}

export interface SqlServiceOptions {
  database: string;
  /** The analyst connections (sql/connect.ts analystClients). */
  clients: ClickHouseClient[];
  /** The gate over exactly those connections. */
  gate: ConnectionGate;
  /** Where history and audit rows are written: on the embedded engine the analyst connection, so they never queue on ingest's. */
  recorder: Db;
  audit: AuditLog;
  limitsFor(tenantId: string): Promise<TenantLimits>;
  maxThreads: number;
  osThreadPriority: number;
  maxResultBytes: number;
  /** Whether the connections' summaries report rows read (server: yes; chdb: no). */
  summaryReadsRows: boolean;
  now?: () => number;
}

export interface SqlCaller {
  tenantId: string;
  /** The key that called, or that minted the console link that called. */
  keyId: string;
  /** The SQL console link the query came through, if any. */
  linkId?: string | undefined;
  requestId: string;
}

export interface SqlRequest {
  query: string;
  params: Record<string, SqlParamValue>;
  format: SqlFormat;
}

/** ClickHouse's JSON format, as the engine writes it. */
interface EngineJson {
  meta: { name: string; type: string }[];
  data: Record<string, unknown>[];
  statistics: { rows_read: number; bytes_read: number };
}

export type SqlResult =
  | {
      format: 'json';
      queryId: string;
      body: {
        columns: { name: string; type: string }[];
        data: Record<string, unknown>[];
        rows: number;
        truncated: boolean;
        statistics: { elapsedMs: number; rowsRead: number; bytesRead: number };
      };
    }
  | { format: Exclude<SqlFormat, 'json'>; queryId: string; bytes: Buffer; statistics: SqlStatistics };

/** Rows of a streamed answer when they can be counted from its bytes (JSON lines); otherwise unknown. */
const rowsOf = (format: SqlFormat, bytes: Buffer) => (format === 'jsonl' ? bytes.toString('utf8').split('\n').filter(Boolean).length : null);

/**
 * Analyst SQL: admission (the tenant's concurrent queries, then a free analyst
 * connection), the guarded run, and one history row plus one audit entry per
 * query, refused or not.
 */
export class SqlService {
  private readonly slots = new ReadSlots({ code: 'too_many_concurrent_queries', plural: 'SQL queries' });

  constructor(private readonly options: SqlServiceOptions) {}

  /**
   * Put each analyst connection in the empty analyst database and check that
   * it is empty: a name that escapes the virtual schema must find nothing.
   */
  async prepare(embedded: boolean): Promise<void> {
    const expected = analystDatabase(this.options.database);
    for (const client of new Set(this.options.clients)) {
      // Over HTTP the client's `database` option does this per request; chdb keeps USE per connection.
      if (embedded) await client.command({ query: `USE ${expected}` });
      const result = await client.query({
        query: 'SELECT currentDatabase() AS db, (SELECT count() FROM system.tables WHERE database = currentDatabase()) AS tables',
        format: 'JSONEachRow',
      });
      const [row] = await result.json<{ db: string; tables: string | number }>();
      if (row?.db !== expected || Number(row.tables) !== 0)
        throw new Error(`the analyst connection must run in the empty database ${expected}; it is in ${row?.db} with ${row?.tables} tables`);
    }
  }

  /** The tenant's analyst queries in progress (admitted, running or waiting for a connection). */
  inProgress(tenantId: string): number {
    return this.slots.inProgress(tenantId);
  }

  async run(caller: SqlCaller, request: SqlRequest): Promise<SqlResult> {
    const limits = await this.options.limitsFor(caller.tenantId);
    const release = this.slots.acquire(caller.tenantId, limits.sqlConcurrentQueries);
    const queryId = `sql_${randomUUID().replaceAll('-', '')}`;
    const startedAtMs = (this.options.now ?? Date.now)();
    const started = performance.now();
    let record: Omit<AnalystQueryRecord, 'tenantId' | 'queryId' | 'keyId' | 'linkId' | 'startedAtMs' | 'durationMs' | 'format' | 'query'> = {
      rowsRead: 0,
      bytesRead: 0,
      resultRows: 0,
      status: 'error',
      error: 'engine unavailable',
    };
    try {
      const answer = await this.answer(caller, request, limits);
      const result = shape(queryId, request.format, answer, limits.sqlMaxResultRows);
      const resultRows = result.format === 'json' ? result.body.rows : rowsOf(request.format, answer.bytes);
      const truncated = result.format === 'json' && result.body.truncated;
      const { statistics } = result.format === 'json' ? result.body : answer;
      record = { rowsRead: statistics.rowsRead, bytesRead: statistics.bytesRead, resultRows, status: truncated ? 'truncated' : 'ok', error: '' };
      return result;
    } catch (error) {
      if (error instanceof SqlError) record = { ...record, status: error.status, error: error.message };
      throw error;
    } finally {
      release();
      const durationMs = Math.round(performance.now() - started);
      const row: AnalystQueryRecord = {
        ...record,
        tenantId: caller.tenantId,
        queryId,
        keyId: caller.keyId,
        linkId: caller.linkId ?? '',
        startedAtMs,
        durationMs,
        format: request.format,
        query: request.query,
      };
      await recordAnalystQuery(this.options.recorder, row);
      await this.options.audit.record({ tenantId: caller.tenantId, actor: caller.keyId, requestId: caller.requestId }, 'sql.query', {
        target: queryId,
        after: {
          status: row.status,
          format: row.format,
          durationMs,
          rowsRead: row.rowsRead,
          resultRows: row.resultRows,
          ...(caller.linkId ? { consoleLink: caller.linkId } : {}),
        },
      });
    }
  }

  private async answer(caller: SqlCaller, request: SqlRequest, limits: TenantLimits): Promise<SqlAnswer> {
    const reader = await this.options.gate.acquire();
    try {
      return await runAnalystQuery(reader.client, this.options.database, {
        tenantId: caller.tenantId,
        ...request,
        limits: { ...limits, maxThreads: this.options.maxThreads, osThreadPriority: this.options.osThreadPriority },
        maxResultBytes: this.options.maxResultBytes,
        summaryReadsRows: this.options.summaryReadsRows,
        tags: { requestId: caller.requestId, keyId: caller.keyId },
      });
    } finally {
      this.options.gate.release(reader);
    }
  }
}

/** The json answer from the engine's JSON (read one row past the limit: more means truncated); other formats as the engine wrote them. */
function shape(queryId: string, format: SqlFormat, answer: SqlAnswer, maxRows: number): SqlResult {
  if (format !== 'json') return { format, queryId, bytes: answer.bytes, statistics: answer.statistics };
  const engine = JSON.parse(answer.bytes.toString('utf8')) as EngineJson;
  const data = engine.data.slice(0, maxRows);
  // The JSON document's own statistics are the engine's counts of what the query read.
  const statistics = { elapsedMs: answer.statistics.elapsedMs, rowsRead: Number(engine.statistics.rows_read), bytesRead: Number(engine.statistics.bytes_read) };
  return {
    format,
    queryId,
    body: { columns: engine.meta.map(({ name, type }) => ({ name, type })), data, rows: data.length, truncated: engine.data.length > maxRows, statistics },
  };
}
