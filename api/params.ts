import { z } from '@hono/zod-openapi';
import { parseInstant } from '../ingest/time.js';
import { ApiError } from './errors.js';
import { retainedSinceMs } from '../domain/retention.js';

/** A time query parameter: RFC 3339 with offset, or epoch milliseconds. */
export const instantParam = (name: string) =>
  z
    .string()
    .refine((v) => parseInstant(v).ok, `${name} must be an RFC 3339 date-time with offset or epoch milliseconds`)
    .openapi({ example: '2026-11-01T00:00:00Z' });

export function instantMs(value: string): number;
export function instantMs(value: string | undefined): number | undefined;
export function instantMs(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const t = parseInstant(value);
  if (!t.ok) throw new ApiError(400, 'invalid_request', t.message);
  return t.epochMs;
}

export const limitParam = (fallback: number, max: number) =>
  z.coerce.number().int().min(1).max(max).default(fallback).openapi({ type: 'integer', example: fallback });

/** Opaque keyset cursors: base64url of a JSON array of the last row's sort key. */
export function encodeCursor(key: readonly (string | number)[]): string {
  return Buffer.from(JSON.stringify(key)).toString('base64url');
}

export function decodeCursor<T extends z.ZodType>(cursor: string | undefined, shape: T): z.infer<T> | undefined {
  if (cursor === undefined) return undefined;
  try {
    return shape.parse(JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')));
  } catch {
    throw new ApiError(400, 'invalid_cursor', 'cursor is not one this API issued');
  }
}

export function assertWindow(fromMs: number | undefined, toMs: number | undefined): void {
  if (fromMs !== undefined && toMs !== undefined && fromMs >= toMs) {
    throw new ApiError(400, 'invalid_request', 'from must be earlier than to (windows are half-open [from, to))');
  }
}

/**
 * A window that starts before raw retention would be answered from partly deleted
 * events: refuse it, naming the earliest instant still answered (domain/retention.ts).
 */
export function assertRetained(fromMs: number | undefined, rawRetentionDays: number | undefined, nowMs: number): void {
  const since = retainedSinceMs(rawRetentionDays, nowMs);
  if (since === undefined || fromMs === undefined || fromMs >= since) return;
  throw new ApiError(
    422,
    'beyond_retention',
    `from reaches past raw retention (RAW_RETENTION_DAYS=${rawRetentionDays}): events before ${new Date(since).toISOString()} are deleted or being deleted, so numbers for it would be partial; start the window at or after that instant`,
    { retainedSince: new Date(since).toISOString() },
  );
}

/** A JSON response or request body of an OpenAPI route. */
export const jsonOf = <T extends z.ZodType>(schema: T) => ({ 'application/json': { schema } });
