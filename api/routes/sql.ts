import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import type { AppDeps, AppEnv } from '../context.js';
import { ApiError, errorSchema } from '../errors.js';
import type { Logger } from '../logger.js';
import { decodeCursor, encodeCursor, jsonOf, limitParam } from '../params.js';
import { needs } from '../route-scopes.js';
import { SQL_FORMATS } from '../../analyst/compose.js';
import { clickhouseCode, SqlError } from '../../analyst/errors.js';
import { GuardUnavailableError, type SqlParamValue } from '../../analyst/guard.js';
import type { SqlCaller } from '../../analyst/service.js';
import { SqlEngineError } from '../../analyst/run.js';
import { VIRTUAL_TABLES } from '../../analyst/virtual-schema.js';
import { ALLOWED_FUNCTIONS, ALLOWED_TABLE_FUNCTIONS } from '../../analyst/reviewed-functions.js';
import { analystHistory, analystHistoryRow } from '../../sql/queries/analyst.js';

const MAX_PARAMS = 100;
/** Later than any stored query (2286): the first page's cursor. */
const LATEST_MS = 10_000_000_000_000;
const scalar = z.union([z.string().max(65_536), z.number(), z.boolean(), z.null()]);
const paramValue = z.union([scalar, z.array(scalar).max(10_000)]);

export const sqlRequest = z
  .strictObject({
    query: z
      .string()
      .min(1)
      .max(1024 * 1024)
      .openapi({
        example:
          'SELECT customer_id, sum(quantity) AS total FROM events WHERE timestamp >= {from:DateTime64(3)} GROUP BY customer_id ORDER BY total DESC LIMIT 10',
      }),
    params: z
      .record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,63}$/, 'a parameter name is a plain identifier (letters, digits, _)'), paramValue)
      .refine((p) => Object.keys(p).length <= MAX_PARAMS, `at most ${MAX_PARAMS} parameters`)
      .default({})
      .openapi({
        description: "Values of the query's {name:Type} parameters, bound by the engine (never spliced into the text); send exact numbers as strings",
        example: { from: '2026-11-01 00:00:00' },
      }),
    format: z.enum(SQL_FORMATS).default('json').openapi({ description: "json: the answer below; jsonl, csv, parquet: the engine's own bytes" }),
  })
  .openapi('SqlRequest');

const statistics = z.object({ elapsedMs: z.number().int(), rowsRead: z.number().int(), bytesRead: z.number().int() });
const sqlAnswer = z
  .object({
    columns: z.array(z.object({ name: z.string(), type: z.string() })),
    data: z.array(z.record(z.string(), z.unknown())).openapi({ description: '64-bit integers and decimals are strings (exact)' }),
    rows: z.number().int(),
    truncated: z.boolean().openapi({ description: "true: the answer had more than the tenant's sqlMaxResultRows rows; these are the first" }),
    statistics,
    queryId: z.string(),
  })
  .openapi('SqlAnswer');

export const schemaAnswer = z
  .object({
    tables: z.array(
      z.object({ name: z.string(), description: z.string(), columns: z.array(z.object({ name: z.string(), type: z.string(), description: z.string() })) }),
    ),
    functions: z.array(z.string()).openapi({ description: 'Functions an analyst may call (aggregate functions also with combinators: sumIf, uniqMerge)' }),
    tableFunctions: z.array(z.string()),
  })
  .openapi('SqlSchema');

const historyEntry = analystHistoryRow.omit({ startedAtMs: true }).openapi('SqlHistoryEntry');

/** The answers of a query run, by POST /v1/sql and by the SQL console. */
export const runResponses = {
  200: {
    description: "The answer (json), or the engine's bytes (jsonl, csv, parquet)",
    content: {
      ...jsonOf(sqlAnswer),
      'application/x-ndjson': { schema: z.string() },
      'text/csv': { schema: z.string() },
      'application/vnd.apache.parquet': { schema: z.string().openapi({ format: 'binary' }) },
    },
  },
  400: {
    description: 'The query was refused (sql_refused) or failed in the engine (sql_error): the message says why, details the position',
    content: jsonOf(errorSchema),
  },
  422: { description: 'A limit was passed (sql_limit_exceeded): details name it', content: jsonOf(errorSchema) },
  429: { description: 'Too many queries of this tenant at once, or no analyst connection free in time', content: jsonOf(errorSchema) },
};

const CONTENT_TYPES = { jsonl: 'application/x-ndjson', csv: 'text/csv; charset=utf-8', parquet: 'application/vnd.apache.parquet' } as const;

const routes = {
  run: createRoute({
    method: 'post',
    path: '/v1/sql',
    summary: "Run one SELECT over the tenant's virtual tables (analyst SQL; docs/sql.md)",
    security: needs('sql'),
    request: { body: { content: jsonOf(sqlRequest), required: true } },
    responses: runResponses,
  }),
  schema: createRoute({
    method: 'get',
    path: '/v1/sql/schema',
    summary: 'The virtual tables, their columns, and the functions analyst SQL allows',
    security: needs('sql'),
    responses: { 200: { description: 'The schema', content: jsonOf(schemaAnswer) } },
  }),
  history: createRoute({
    method: 'get',
    path: '/v1/sql/history',
    summary: "The tenant's analyst queries, newest first (each is also in the audit log as sql.query)",
    security: needs('sql'),
    request: { query: z.object({ cursor: z.string().max(2048).optional(), limit: limitParam(100, 1000) }) },
    responses: { 200: { description: 'A page of queries', content: jsonOf(z.object({ data: z.array(historyEntry), nextCursor: z.string().nullable() })) } },
  }),
};

const STATUS = { refused: [400, 'sql_refused'], error: [400, 'sql_error'], limit: [422, 'sql_limit_exceeded'] } as const;

function apiErrorOf(error: unknown, logger: Logger, requestId: string): unknown {
  if (error instanceof SqlError) {
    const [status, code] = STATUS[error.status];
    return new ApiError(status, code, error.message, Object.keys(error.details).length > 0 ? error.details : undefined);
  }
  if (error instanceof SqlEngineError || error instanceof GuardUnavailableError) {
    // What failed, for the operator: the kind and the engine's code, never its message (it can quote the query or rows).
    const cause: unknown = error.cause;
    logger.error(
      {
        requestId,
        operation: error instanceof GuardUnavailableError ? 'sql.guard' : 'sql.analyst',
        clickhouseCode: clickhouseCode(cause),
        cause: cause instanceof Error ? cause.name : typeof cause,
      },
      'analyst query could not run',
    );
    return new ApiError(503, 'storage_unavailable', 'the engine could not run the query; retry shortly', undefined, { 'Retry-After': '1' });
  }
  return error;
}

export function sqlRoutes({ sql, config, logger }: AppDeps) {
  const app = new OpenAPIHono<AppEnv>();

  app.openapi(routes.run, async (c) => {
    const { tenantId, keyId } = c.get('principal');
    return answerSql(c, { sql, config, logger }, c.req.valid('json'), { tenantId, keyId, requestId: c.get('requestId') });
  });

  app.openapi(routes.schema, (c) => c.json(schemaBody(), 200));

  app.openapi(routes.history, async (c) => {
    const { tenantId } = c.get('principal');
    const q = c.req.valid('query');
    const [beforeMs, beforeId] = decodeCursor(q.cursor, z.tuple([z.number().int(), z.string()])) ?? [LATEST_MS, ''];
    const rows = await analystHistory(c.get('reader'), { tenantId, beforeMs, beforeId, limit: q.limit + 1 }, { tenantId, requestId: c.get('requestId') });
    const page = rows.slice(0, q.limit);
    const last = page.at(-1);
    return c.json(
      {
        data: page.map(({ startedAtMs: _, ...row }) => row),
        nextCursor: rows.length > q.limit && last ? encodeCursor([last.startedAtMs, last.queryId]) : null,
      },
      200,
    );
  });
  return app;
}

/** The virtual tables, their columns and the allowed functions (GET /v1/sql/schema and the console's schema). */
export const schemaBody = () => ({
  tables: VIRTUAL_TABLES.map(({ name, description, columns }) => ({ name, description, columns })),
  functions: ALLOWED_FUNCTIONS,
  tableFunctions: ALLOWED_TABLE_FUNCTIONS,
});

/** Run one analyst query for `caller` and answer it (json, or the engine's bytes): POST /v1/sql and the console's run. */
export async function answerSql(
  c: Context<AppEnv>,
  { sql, config, logger }: Pick<AppDeps, 'sql' | 'config' | 'logger'>,
  body: z.infer<typeof sqlRequest>,
  caller: SqlCaller,
): Promise<Response> {
  const bytes = Buffer.byteLength(body.query);
  if (bytes > config.SQL_MAX_QUERY_BYTES)
    throw new ApiError(400, 'invalid_request', `the query is ${bytes} bytes; at most SQL_MAX_QUERY_BYTES=${config.SQL_MAX_QUERY_BYTES}`);
  let result;
  try {
    result = await sql.run(caller, { query: body.query, params: body.params as Record<string, SqlParamValue>, format: body.format });
  } catch (error) {
    throw apiErrorOf(error, logger, caller.requestId);
  }
  c.header('X-Meterhouse-Query-Id', result.queryId);
  if (result.format === 'json') return c.json({ ...result.body, queryId: result.queryId }, 200);
  c.header('Content-Type', CONTENT_TYPES[result.format]);
  if (result.statistics.rowsRead !== null) c.header('X-Meterhouse-Rows-Read', String(result.statistics.rowsRead));
  return c.body(new Uint8Array(result.bytes), 200) as never;
}
