import type { DropReason, MetricsHooks, Rejection, UsageEvent } from './types.js';

export interface RetryOptions {
  /** First backoff step (default 100 ms); each attempt doubles it, with jitter. */
  initialDelayMs?: number;
  /** Largest backoff step (default 10 s). */
  maxDelayMs?: number;
  /** Attempts per request before its events are dropped as 'retries_exhausted' (default 12). */
  maxAttempts?: number;
  /** A longer Retry-After than this is treated as this (default 60 s), so one header cannot stall the client for hours. */
  maxRetryAfterMs?: number;
}

export interface MeterhouseClientOptions {
  /** Base URL of meterhouse, e.g. https://meterhouse.internal:8080 */
  url: string;
  /** A key with events:write. */
  apiKey: string;
  /** 'usage' sends application/json; 'cloudevents' sends application/cloudevents-batch+json. */
  format?: 'usage' | 'cloudevents';
  /** CloudEvents `source` for events without metadata.source (default 'meterhouse-client'). */
  source?: string;
  /** Send as soon as this many events are buffered (default 500; the server takes at most 10,000). */
  batchSize?: number;
  /** Send what is buffered at most this long after it was recorded (default 1000 ms). */
  flushIntervalMs?: number;
  /** Largest request body (default 4 MiB; the server's default limit is 10 MiB). */
  maxBatchBytes?: number;
  /** The buffer (events waiting and in flight) holds at most this many events (default 10,000)... */
  maxBufferEvents?: number;
  /** ...and this many bytes of serialized events (default 16 MiB). */
  maxBufferBytes?: number;
  /** When the buffer is full: 'drop' the new event (onDropped), or make `record()`'s promise 'wait' for room (default 'drop'). */
  whenFull?: 'drop' | 'wait';
  retry?: RetryOptions;
  /** Per request (default 10 s); a timeout is a network error and is retried. */
  requestTimeoutMs?: number;
  /** Events the server refused (never retried). */
  onRejected?: (rejections: Rejection[]) => void;
  /** Events given up without a server verdict. */
  onDropped?: (events: UsageEvent[], reason: DropReason) => void;
  metrics?: MetricsHooks;
  /** Timestamp for events recorded without one (default Date.now); stamped at record so a retry keeps it. */
  now?: () => number;
  /** eventId for events recorded without one (default crypto.randomUUID; on Node 18 pass node:crypto's randomUUID). */
  generateId?: () => string;
  /** Default: the global fetch. */
  fetch?: typeof fetch;
}

export type ResolvedOptions = Required<Omit<MeterhouseClientOptions, 'onRejected' | 'onDropped' | 'metrics' | 'retry'>> & {
  retry: Required<RetryOptions>;
  onRejected: (rejections: Rejection[]) => void;
  onDropped: (events: UsageEvent[], reason: DropReason) => void;
  metrics: MetricsHooks;
};

function positive(name: string, value: number, integer = true): number {
  if (!(value > 0) || (integer && !Number.isInteger(value))) throw new RangeError(`${name} must be a positive ${integer ? 'integer' : 'number'}, got ${value}`);
  return value;
}

function defaultId(): () => string {
  const c = (globalThis as { crypto?: { randomUUID?: () => string } }).crypto;
  if (typeof c?.randomUUID !== 'function') {
    throw new TypeError('globalThis.crypto.randomUUID is missing (Node 18): pass generateId, e.g. randomUUID from node:crypto');
  }
  return () => c.randomUUID!();
}

export function resolveOptions(o: MeterhouseClientOptions): ResolvedOptions {
  if (!o.url) throw new TypeError('url is required');
  if (!o.apiKey) throw new TypeError('apiKey is required');
  const r = o.retry ?? {};
  const resolved: ResolvedOptions = {
    url: o.url.replace(/\/+$/, ''),
    apiKey: o.apiKey,
    format: o.format ?? 'usage',
    source: o.source ?? 'meterhouse-client',
    batchSize: positive('batchSize', o.batchSize ?? 500),
    flushIntervalMs: positive('flushIntervalMs', o.flushIntervalMs ?? 1000),
    maxBatchBytes: positive('maxBatchBytes', o.maxBatchBytes ?? 4 * 1024 * 1024),
    maxBufferEvents: positive('maxBufferEvents', o.maxBufferEvents ?? 10_000),
    maxBufferBytes: positive('maxBufferBytes', o.maxBufferBytes ?? 16 * 1024 * 1024),
    whenFull: o.whenFull ?? 'drop',
    retry: {
      initialDelayMs: positive('retry.initialDelayMs', r.initialDelayMs ?? 100, false),
      maxDelayMs: positive('retry.maxDelayMs', r.maxDelayMs ?? 10_000, false),
      maxAttempts: positive('retry.maxAttempts', r.maxAttempts ?? 12),
      maxRetryAfterMs: positive('retry.maxRetryAfterMs', r.maxRetryAfterMs ?? 60_000, false),
    },
    requestTimeoutMs: positive('requestTimeoutMs', o.requestTimeoutMs ?? 10_000),
    onRejected: o.onRejected ?? (() => {}),
    onDropped: o.onDropped ?? (() => {}),
    metrics: o.metrics ?? {},
    now: o.now ?? (() => Date.now()),
    generateId: o.generateId ?? defaultId(),
    fetch: o.fetch ?? ((input, init) => fetch(input, init)),
  };
  if (!['usage', 'cloudevents'].includes(resolved.format)) throw new RangeError(`format must be 'usage' or 'cloudevents', got ${resolved.format}`);
  if (!['drop', 'wait'].includes(resolved.whenFull)) throw new RangeError(`whenFull must be 'drop' or 'wait', got ${resolved.whenFull}`);
  if (resolved.maxBufferEvents < resolved.batchSize) throw new RangeError('maxBufferEvents must be at least batchSize');
  return resolved;
}
