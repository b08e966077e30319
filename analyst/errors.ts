/**
 * How an analyst query fails. The analyst's own mistakes (syntax, unknown
 * column, refused construct) are 400 with the engine's message and position;
 * a limit is 422 naming it; a busy engine is 429/503. The engine's text is
 * cleaned first: it can quote the query that ran, which holds meterhouse's
 * storage names around the analyst's text (never another tenant's data: the
 * query only ever reads the caller's tenant).
 */
export type SqlStatus = 'ok' | 'truncated' | 'refused' | 'error' | 'limit';

export class SqlError extends Error {
  override readonly name = 'SqlError';
  constructor(
    readonly status: Exclude<SqlStatus, 'ok' | 'truncated'>,
    message: string,
    readonly details: { clickhouseCode?: string; position?: number; limit?: string; value?: number } = {},
  ) {
    super(message);
  }
}

/** ClickHouse codes of a limit, and the tenant limit (operator-settable) behind each. */
const LIMIT_CODES: Record<string, string> = {
  '158': 'sqlMaxRowsToRead', // TOO_MANY_ROWS
  '307': 'sqlMaxBytesToRead', // TOO_MANY_BYTES
  '159': 'sqlMaxExecutionSeconds', // TIMEOUT_EXCEEDED
  '160': 'sqlMaxExecutionSeconds', // TOO_SLOW: the engine predicts the limit will be passed
  '241': 'sqlMaxMemoryBytes', // MEMORY_LIMIT_EXCEEDED (the query's own; see below)
};

/** Codes that are the engine's trouble, not the analyst's: the caller retries. */
const ENGINE_TROUBLE = new Set(['202', '209', '210', '236', '394', '425', '999']);

export function clickhouseCode(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const e = error as { code?: unknown; clickhouseCode?: unknown };
  const code = e.clickhouseCode ?? e.code;
  return typeof code === 'string' || typeof code === 'number' ? String(code) : undefined;
}

/** The engine's message without the query it quotes, storage names, file paths or version. */
export function cleanMessage(message: string, database: string): string {
  return message
    .replace(/^Code: \d+\. DB::Exception: /, '')
    .replace(/[.:]?\s*In scope [\s\S]*$/i, '')
    .replace(/\s*\(version [^)]*\)\s*$/, '')
    .replace(/\s*\([A-Z_]+\)\s*$/, '')
    .replaceAll(`${database}.`, '')
    .replace(/(?:\/[\w.@-]+){2,}\/?/g, '<path>')
    .trim();
}

/**
 * The SqlError for an engine error, or undefined when the engine itself is in
 * trouble (the caller maps that to 503). `limits` holds the values in force.
 */
export function sqlErrorOf(error: unknown, database: string, limits: Record<string, number>): SqlError | undefined {
  const code = clickhouseCode(error);
  if (code === undefined || ENGINE_TROUBLE.has(code)) return undefined;
  const message = cleanMessage(error instanceof Error ? error.message : String(error), database);
  const limit = LIMIT_CODES[code];
  // The whole engine running out of memory is not this query's limit.
  if (limit && (code !== '241' || /query memory limit/i.test(message))) {
    return new SqlError('limit', `the query passed the limit ${limit}=${limits[limit]}: ${message}`, { clickhouseCode: code, limit, value: limits[limit] });
  }
  if (code === '241') return undefined;
  const position = /position (\d+)/.exec(message)?.[1];
  return new SqlError('error', message, { clickhouseCode: code, ...(position ? { position: Number(position) } : {}) });
}
