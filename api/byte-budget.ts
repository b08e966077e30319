import { createMiddleware } from 'hono/factory';
import type { AppEnv } from './context.js';
import { ApiError } from './errors.js';

/** A total of bytes shared by requests in flight: each takes its share up front and gives it back when answered. */
export class ByteBudget {
  private used = 0;

  constructor(readonly capacity: number) {}

  get inUse(): number {
    return this.used;
  }

  tryTake(bytes: number): boolean {
    if (this.used + bytes > this.capacity) return false;
    this.used += bytes;
    return true;
  }

  give(bytes: number): void {
    this.used -= bytes;
  }
}

/**
 * Bounds ingest memory per request and in total. A declared Content-Length
 * over `maxBodyBytes` is refused before a byte is read; otherwise the request
 * takes its declared length (or `maxBodyBytes` when the body is chunked) from
 * the shared budget, and waits for nothing: past the budget it gets 503 with
 * Retry-After. The body itself is still cut at `maxBodyBytes` while streaming
 * (hono's bodyLimit after this).
 */
export function ingestBudget(budget: ByteBudget, maxBodyBytes: number) {
  return createMiddleware<AppEnv>(async function reserveBodyBytes(c, next) {
    const declared = c.req.header('content-length');
    const length = declared === undefined ? undefined : Number(declared);
    if (length !== undefined && (!Number.isSafeInteger(length) || length < 0)) throw new ApiError(400, 'invalid_request', 'Content-Length is not a byte count');
    if (length !== undefined && length > maxBodyBytes) {
      throw new ApiError(413, 'payload_too_large', `the body exceeds ${maxBodyBytes} bytes (MAX_BODY_BYTES); send fewer events per request`);
    }
    const share = length ?? maxBodyBytes;
    if (!budget.tryTake(share)) {
      throw new ApiError(
        503,
        'ingest_busy',
        `ingest bodies in flight would pass ${budget.capacity} bytes (INGEST_MAX_INFLIGHT_BYTES); retry shortly`,
        undefined,
        { 'Retry-After': '1' },
      );
    }
    try {
      await next();
    } finally {
      budget.give(share);
    }
  });
}
