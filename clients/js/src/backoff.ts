import type { RetryOptions } from './options.js';

/**
 * The wait before attempt `attempt + 1` (attempt counts from 1): exponential
 * backoff with "equal jitter" (half the step fixed, half random) so that
 * clients that failed together do not come back together, and never sooner
 * than the server's Retry-After.
 */
export function retryDelayMs(attempt: number, retry: Required<RetryOptions>, retryAfterMs: number | null, random: () => number): number {
  const step = Math.min(retry.maxDelayMs, retry.initialDelayMs * 2 ** (attempt - 1));
  const backoff = step / 2 + random() * (step / 2);
  if (retryAfterMs === null) return Math.round(backoff);
  return Math.round(Math.max(backoff, Math.min(retryAfterMs, retry.maxRetryAfterMs)));
}

/** Retry-After as delta-seconds or an HTTP-date (RFC 9110 10.2.3); null when absent or unreadable. */
export function parseRetryAfter(header: string | null, nowMs: number): number | null {
  if (header === null) return null;
  const value = header.trim();
  if (/^\d+$/.test(value)) return Number(value) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? null : Math.max(0, at - nowMs);
}

/** Statuses that say "not stored, try again": rate limited, unavailable, and gateway/server failures (retrying is safe: eventIds make it idempotent). */
export function isRetryableStatus(status: number): boolean {
  return status === 429 || status === 500 || status === 502 || status === 503 || status === 504;
}
