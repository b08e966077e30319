import { createMiddleware } from 'hono/factory';
import type { Db } from '../sql/query.js';
import type { AppEnv } from './context.js';
import type { TenantLimits } from '../access/limits.js';
import { ApiError } from './errors.js';

/** Reads run at once: one per reader (engine connection) given to the gate. */
export interface ReadGateOptions {
  /** Reads that may wait for a turn; past it, 429 at once. */
  maxQueued: number;
  /** How long a read may wait for a turn before it gets 429. */
  queueTimeoutMs: number;
}

interface Waiter {
  grant(reader: Db): void;
  timer: NodeJS.Timeout | undefined;
}

/** Thrown when no reader is free in time: the caller retries later (429, Retry-After). */
export class ReadersBusyError extends ApiError {
  constructor(reason: string) {
    super(429, 'too_many_reads', `too many reads in progress (${reason}); retry shortly`, undefined, { 'Retry-After': '1' });
  }
}

/**
 * A fixed set of read connections, leased one per request. Reads beyond them
 * wait in a bounded queue for a bounded time, so heavy readers can neither
 * pile up work in the engine nor hold memory without limit, and ingest (on
 * its own connection) always finds the engine able to take its insert.
 */
export class ReadGate {
  private readonly free: Db[];
  private readonly queue: Waiter[] = [];

  constructor(
    readers: readonly Db[],
    private readonly options: ReadGateOptions,
  ) {
    if (readers.length === 0) throw new Error('ReadGate needs at least one reader');
    this.free = [...readers];
  }

  get waiting(): number {
    return this.queue.length;
  }

  get idle(): number {
    return this.free.length;
  }

  async acquire(): Promise<Db> {
    const reader = this.free.pop();
    if (reader) return reader;
    if (this.queue.length >= this.options.maxQueued) throw new ReadersBusyError(`${this.options.maxQueued} already waiting (READ_MAX_QUEUED)`);
    return new Promise<Db>((resolve, reject) => {
      const waiter: Waiter = { grant: resolve, timer: undefined };
      waiter.timer = setTimeout(() => {
        this.queue.splice(this.queue.indexOf(waiter), 1);
        reject(new ReadersBusyError(`no reader free within ${this.options.queueTimeoutMs} ms (READ_QUEUE_TIMEOUT_MS)`));
      }, this.options.queueTimeoutMs);
      this.queue.push(waiter);
    });
  }

  release(reader: Db): void {
    const next = this.queue.shift();
    if (!next) {
      this.free.push(reader);
      return;
    }
    clearTimeout(next.timer);
    next.grant(reader);
  }
}

/** A tenant's own read bounds (the operator may set them per tenant; docs/access.md). */
export type TenantReadBounds = (tenantId: string) => Promise<Pick<TenantLimits, 'readMaxExecutionSeconds' | 'readMaxRowsToRead' | 'readMaxMemoryBytes'>>;

/**
 * Leases a reader for the request (c.get('reader')), returned once the response
 * is built. A tenant's reads run under that tenant's engine time, rows and
 * memory bounds; the other bounds are the reader's (config).
 */
export function readGate(gate: ReadGate, boundsOf?: TenantReadBounds) {
  return createMiddleware<AppEnv>(async function leaseReader(c, next) {
    const caller = c.get('caller');
    const bounds = boundsOf && caller && caller.kind !== 'operator' ? await boundsOf(caller.principal.tenantId) : undefined;
    const reader = await gate.acquire();
    const leased: Db =
      bounds && reader.readLimits
        ? {
            ...reader,
            readLimits: {
              ...reader.readLimits,
              max_execution_time: bounds.readMaxExecutionSeconds,
              max_rows_to_read: bounds.readMaxRowsToRead,
              max_memory_usage: bounds.readMaxMemoryBytes,
            },
          }
        : reader;
    c.set('reader', leased);
    try {
      await next();
    } finally {
      gate.release(reader);
    }
  });
}
