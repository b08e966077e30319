import type { ReadLimits } from './query.js';

/**
 * The one error type of the sql layer. Its message names the operation and the
 * ClickHouse error code only: the engine's own text can echo row data, so it
 * stays on `cause` and out of logs and HTTP bodies.
 */
export class StorageError extends Error {
  override readonly name = 'StorageError';
  constructor(
    readonly operation: string,
    readonly clickhouseCode: string | undefined,
    options?: { cause?: unknown },
  ) {
    super(`${operation} failed${clickhouseCode ? ` (ClickHouse error ${clickhouseCode})` : ''}`, options);
  }
}

/** A read stopped by one of its ReadLimits: the caller asked too much, nothing is wrong with storage. */
export class ReadLimitError extends StorageError {
  constructor(
    operation: string,
    clickhouseCode: string,
    readonly limit: keyof ReadLimits,
    readonly value: number,
    options?: { cause?: unknown },
  ) {
    super(operation, clickhouseCode, options);
  }
}

// ClickHouse error code -> the limit that raises it (241 only for the per-query memory limit, see below).
const LIMIT_BY_CODE: Record<string, keyof ReadLimits> = {
  '158': 'max_rows_to_read', // TOO_MANY_ROWS
  '159': 'max_execution_time', // TIMEOUT_EXCEEDED
  '160': 'max_execution_time', // TOO_SLOW: the engine predicts the limit will be passed
  '396': 'max_result_rows', // TOO_MANY_ROWS_OR_BYTES (rows or bytes: the message says which)
  '241': 'max_memory_usage', // MEMORY_LIMIT_EXCEEDED
};

/** The ReadLimitError of a failed read when one of `limits` stopped it (the engine's code says which), else undefined. */
export function readLimitError(operation: string, limits: ReadLimits, error: unknown): ReadLimitError | undefined {
  const code = clickhouseCodeOf(error);
  let limit = code === undefined ? undefined : LIMIT_BY_CODE[code];
  if (!limit) return undefined;
  const message = error instanceof Error ? error.message : '';
  // The whole engine running out of memory is not this read's limit.
  if (limit === 'max_memory_usage' && !/query memory limit/i.test(message)) return undefined;
  if (limit === 'max_result_rows' && /max bytes/i.test(message)) limit = 'max_result_bytes';
  return new ReadLimitError(operation, code!, limit, limits[limit], { cause: error });
}

/** The engine's error code of `error`: `clickhouseCode` on chdb's errors, `code` on the server client's; else undefined. */
export function clickhouseCodeOf(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const e = error as { code?: unknown; clickhouseCode?: unknown };
  const code = e.clickhouseCode ?? e.code;
  return typeof code === 'string' || typeof code === 'number' ? String(code) : undefined;
}

/** `error` as the sql layer's StorageError for `operation` (one already is stays as it is). */
export function toStorageError(operation: string, error: unknown): StorageError {
  if (error instanceof StorageError) return error;
  return new StorageError(operation, clickhouseCodeOf(error), { cause: error });
}
