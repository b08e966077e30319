import { z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { ReadLimits } from '../sql/query.js';
import { ReadLimitError, StorageError } from '../sql/storage-error.js';
import { WriterClosedError, WriterFullError } from '../ingest/writer.js';
import { KafkaUnavailableError } from '../ingest/kafka-sink.js';
import type { Logger } from './logger.js';
import { LimitExceededError } from '../access/limits.js';

/** The one error of the API layer; everything else is mapped onto it by `errorResponse`. */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly status: ContentfulStatusCode,
    readonly code: string,
    message: string,
    readonly details?: unknown,
    readonly headers?: Record<string, string>,
  ) {
    super(message);
  }
}

export const errorSchema = z
  .object({
    error: z.object({
      code: z.string(),
      message: z.string(),
      requestId: z.string(),
      details: z.unknown().optional(),
    }),
  })
  .openapi('Error');

const CODES_BY_STATUS: Record<number, string> = {
  400: 'bad_request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
};

function toApiError(error: unknown, logger: Logger, requestId: string): ApiError {
  if (error instanceof ApiError) return error;
  if (error instanceof HTTPException) {
    return new ApiError(error.status as ContentfulStatusCode, CODES_BY_STATUS[error.status] ?? 'http_error', error.message || 'request failed');
  }
  if (error instanceof LimitExceededError) {
    return new ApiError(429, error.code, error.message, undefined, { 'Retry-After': String(error.retryAfterSeconds) });
  }
  if (error instanceof WriterFullError) {
    return new ApiError(503, 'ingest_buffer_full', 'the ingest buffer is full; retry shortly', undefined, { 'Retry-After': String(error.retryAfterSeconds) });
  }
  if (error instanceof KafkaUnavailableError) {
    return new ApiError(503, 'broker_unavailable', error.message, undefined, { 'Retry-After': String(error.retryAfterSeconds) });
  }
  if (error instanceof WriterClosedError) {
    return new ApiError(503, 'shutting_down', 'meterhouse is shutting down; retry against another instance or after restart', undefined, {
      'Retry-After': '5',
    });
  }
  if (error instanceof ReadLimitError) return readLimitExceeded(error);
  if (error instanceof StorageError) {
    // The engine's own message can echo row data: log only the operation and code.
    logger.error({ requestId, operation: error.operation, clickhouseCode: error.clickhouseCode }, 'storage error');
    return new ApiError(503, 'storage_unavailable', 'storage is unavailable; nothing was acknowledged, retry shortly', undefined, { 'Retry-After': '1' });
  }
  logger.error({ requestId, err: error }, 'unhandled error');
  return new ApiError(500, 'internal', 'internal error');
}

/** Each engine read limit: the setting that holds it, and how a caller asks for less. */
const READ_LIMITS: Record<keyof ReadLimits, { setting: string; hint: string }> = {
  max_execution_time: { setting: 'READ_MAX_EXECUTION_SECONDS', hint: 'narrow the time window (from/to), or filter by customerId, metricName or filter[...]' },
  max_rows_to_read: { setting: 'READ_MAX_ROWS_TO_READ', hint: 'narrow the time window (from/to), or filter by customerId, metricName or filter[...]' },
  max_memory_usage: { setting: 'READ_MAX_MEMORY_BYTES', hint: 'group by fewer things, use a coarser granularity, or narrow the time window' },
  max_result_rows: {
    setting: 'READ_MAX_RESULT_ROWS',
    hint: 'ask for fewer rows: a smaller limit, a coarser granularity, fewer groupBy, then page with the cursor',
  },
  max_result_bytes: {
    setting: 'READ_MAX_RESULT_BYTES',
    hint: 'ask for fewer rows: a smaller limit, a coarser granularity, fewer groupBy, then page with the cursor',
  },
  max_threads: { setting: 'READ_MAX_THREADS', hint: '' },
  os_thread_priority: { setting: 'READ_OS_THREAD_PRIORITY', hint: '' },
};

function readLimitExceeded(error: ReadLimitError): ApiError {
  const { setting, hint } = READ_LIMITS[error.limit];
  return new ApiError(422, 'read_limit_exceeded', `the read passed its limit ${setting}=${error.value}; ${hint}`, { limit: setting, value: error.value, hint });
}

export function errorResponse(c: Context, error: unknown, logger: Logger): Response {
  const requestId = (c.get('requestId') as string | undefined) ?? 'unknown';
  const e = toApiError(error, logger, requestId);
  for (const [name, value] of Object.entries(e.headers ?? {})) c.header(name, value);
  const body: z.infer<typeof errorSchema> = { error: { code: e.code, message: e.message, requestId } };
  if (e.details !== undefined) body.error.details = e.details;
  return c.json(body, e.status);
}
