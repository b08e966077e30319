import { z } from 'zod';

const MiB = 1024 ** 2;
const GiB = 1024 ** 3;

/**
 * What one tenant may use. Ingest rate and concurrent reads are enforced here
 * (IngestRate, ReadSlots, applied by the API). The read bounds are the
 * per-query engine limits for this tenant's reads: whatever runs a tenant's
 * read takes them from `TenantStore.limitsFor(tenantId)` and sends them as the
 * query's max_execution_time, max_rows_to_read and max_memory_usage (the
 * bounded-reads work sets those on every read from the global READ_MAX_*
 * settings, which are the defaults here).
 */
export interface TenantLimits {
  ingestEventsPerSecond: number;
  concurrentReads: number;
  readMaxExecutionSeconds: number;
  readMaxRowsToRead: number;
  readMaxMemoryBytes: number;
  /** Analyst SQL (POST /v1/sql): engine time, rows and bytes read, memory, answer rows, queries at once. */
  sqlMaxExecutionSeconds: number;
  sqlMaxRowsToRead: number;
  sqlMaxBytesToRead: number;
  sqlMaxMemoryBytes: number;
  sqlMaxResultRows: number;
  sqlConcurrentQueries: number;
}

/** The accepted range of each limit, for the configured defaults and the operator's overrides alike. */
export const LIMIT_RANGES: Record<keyof TenantLimits, { min: number; max: number }> = {
  ingestEventsPerSecond: { min: 1, max: 10_000_000 },
  concurrentReads: { min: 1, max: 1000 },
  readMaxExecutionSeconds: { min: 1, max: 3600 },
  readMaxRowsToRead: { min: 1000, max: 1e12 },
  readMaxMemoryBytes: { min: 16 * MiB, max: 1024 * GiB },
  sqlMaxExecutionSeconds: { min: 1, max: 3600 },
  sqlMaxRowsToRead: { min: 1000, max: 1e12 },
  sqlMaxBytesToRead: { min: 1 * MiB, max: 1024 ** 5 },
  sqlMaxMemoryBytes: { min: 16 * MiB, max: 1024 * GiB },
  sqlMaxResultRows: { min: 1, max: 10_000_000 },
  sqlConcurrentQueries: { min: 1, max: 100 },
};

export const limitValue = (name: keyof TenantLimits) => z.number().int().min(LIMIT_RANGES[name].min).max(LIMIT_RANGES[name].max);

/** Thrown when a tenant is over a limit: the caller retries later (429 with Retry-After). */
export class LimitExceededError extends Error {
  override readonly name = 'LimitExceededError';
  constructor(
    readonly code: 'ingest_rate_limited' | 'too_many_concurrent_reads' | 'too_many_concurrent_queries',
    message: string,
    readonly retryAfterSeconds: number,
  ) {
    super(message);
  }
}

type Now = () => number;
const monotonicMs: Now = () => performance.now();

/**
 * Events per second per tenant, a token bucket holding one second of events.
 * A request takes one token per event. It is admitted when the bucket holds
 * as many tokens as it needs, or is full: a batch larger than a second's worth
 * is not refused for ever, it leaves the bucket in debt, and the tenant waits
 * until the debt is paid. Over any stretch of time a tenant gets its rate.
 */
export class IngestRate {
  private buckets = new Map<string, { tokens: number; atMs: number }>();

  constructor(private readonly now: Now = monotonicMs) {}

  take(tenantId: string, events: number, perSecond: number): void {
    const at = this.now();
    const bucket = this.buckets.get(tenantId) ?? { tokens: perSecond, atMs: at };
    bucket.tokens = Math.min(perSecond, bucket.tokens + ((at - bucket.atMs) / 1000) * perSecond);
    bucket.atMs = at;
    this.buckets.set(tenantId, bucket);
    const needed = Math.min(events, perSecond);
    if (bucket.tokens < needed) {
      const waitSeconds = Math.max(1, Math.ceil((needed - bucket.tokens) / perSecond));
      throw new LimitExceededError(
        'ingest_rate_limited',
        `this tenant may send ${perSecond} events per second; this request had ${events}: retry after ${waitSeconds} s`,
        waitSeconds,
      );
    }
    bucket.tokens -= events;
  }
}

/** Reads in progress per tenant; past the tenant's limit a read is refused at once. */
export class ReadSlots {
  private inFlight = new Map<string, number>();

  /** What is counted: reads (the API's GETs), or analyst queries (POST /v1/sql). */
  constructor(
    private readonly what: { code: 'too_many_concurrent_reads' | 'too_many_concurrent_queries'; plural: string } = {
      code: 'too_many_concurrent_reads',
      plural: 'reads',
    },
  ) {}

  /** Take a slot; the returned function gives it back (call it exactly once). */
  acquire(tenantId: string, limit: number): () => void {
    const n = this.inFlight.get(tenantId) ?? 0;
    if (n >= limit) throw new LimitExceededError(this.what.code, `this tenant may run ${limit} ${this.what.plural} at once; retry when one has finished`, 1);
    this.inFlight.set(tenantId, n + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.inFlight.get(tenantId) ?? 1) - 1;
      if (left === 0) this.inFlight.delete(tenantId);
      else this.inFlight.set(tenantId, left);
    };
  }

  inProgress(tenantId: string): number {
    return this.inFlight.get(tenantId) ?? 0;
  }
}
