import { z } from 'zod';
import { TABLES } from '../names.js';
import { count } from '../count.js';
import { defineQuery, insertRows, type Db } from '../query.js';

export interface AnalystQueryRecord {
  tenantId: string;
  queryId: string;
  keyId: string;
  /** The SQL console link the query came through; '' when a key called POST /v1/sql itself. */
  linkId: string;
  startedAtMs: number;
  durationMs: number;
  /** null: the engine did not tell (streamed formats on the embedded engine). */
  rowsRead: number | null;
  bytesRead: number | null;
  /** null: not countable from the answer's bytes (csv, parquet). */
  resultRows: number | null;
  format: string;
  status: string;
  error: string;
  query: string;
}

/** One analyst query, whatever its outcome (append-only). */
export async function recordAnalystQuery(db: Db, r: AnalystQueryRecord): Promise<void> {
  await insertRows(
    db,
    'sql.history.record',
    TABLES.analystQueries,
    [
      {
        tenant_id: r.tenantId,
        query_id: r.queryId,
        key_id: r.keyId,
        link_id: r.linkId,
        started_at: r.startedAtMs,
        duration_ms: r.durationMs,
        rows_read: r.rowsRead,
        bytes_read: r.bytesRead,
        result_rows: r.resultRows,
        format: r.format,
        status: r.status,
        error: r.error,
        query: r.query,
      },
    ],
    { tenantId: r.tenantId },
  );
}

export const analystHistoryRow = z.object({
  queryId: z.string(),
  keyId: z.string(),
  linkId: z.string().nullable(),
  startedAt: z.string(),
  startedAtMs: z.coerce.number().int(),
  durationMs: z.coerce.number().int(),
  rowsRead: count.nullable(),
  bytesRead: count.nullable(),
  resultRows: count.nullable(),
  format: z.string(),
  status: z.string(),
  error: z.string(),
  query: z.string(),
});

/** The tenant's queries, newest first, before a keyset cursor (started_at, query_id). No FINAL: a MergeTree row is never replaced. */
export const analystHistory = defineQuery({
  name: 'sql.history.list',
  params: z.object({ tenantId: z.string(), beforeMs: z.number().int(), beforeId: z.string(), limit: z.number().int().min(1).max(1001) }),
  row: analystHistoryRow,
  sql: (
    db,
  ) => `SELECT query_id AS queryId, key_id AS keyId, nullIf(link_id, '') AS linkId, started_at AS startedAt, toUnixTimestamp64Milli(started_at) AS startedAtMs,
  duration_ms AS durationMs, rows_read AS rowsRead, bytes_read AS bytesRead, result_rows AS resultRows, toString(format) AS format,
  toString(status) AS status, error, query
FROM ${db}.${TABLES.analystQueries}
WHERE tenant_id = {tenantId:String}
  AND (started_at, query_id) < (fromUnixTimestamp64Milli({beforeMs:Int64}, 'UTC'), {beforeId:String})
ORDER BY started_at DESC, query_id DESC
LIMIT {limit:UInt32}`,
});
