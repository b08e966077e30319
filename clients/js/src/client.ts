import { deliver, type Delivery, type DeliveryDeps } from './deliver.js';
import { resolveOptions, type MeterhouseClientOptions, type ResolvedOptions } from './options.js';
import type { ClientStats, DropReason, RecordedEvent, Rejection, UsageEvent } from './types.js';
import { batchBody, batchOverhead, byteLength, toCloudEvent } from './wire.js';

export interface MeterhouseClient {
  /**
   * Buffers one event and never waits for the network. Resolves with its
   * eventId once it is in the buffer: at once, unless the buffer is full and
   * `whenFull` is 'wait'. Never rejects; what cannot be sent goes to
   * onRejected or onDropped.
   */
  record(event: RecordedEvent): Promise<string>;
  /** Resolves once every event recorded before the call is settled: stored, rejected or dropped. */
  flush(): Promise<void>;
  /** Refuses new events (dropped as 'closed'), flushes, and stops the timer. */
  close(): Promise<void>;
  stats(): ClientStats;
}

export function createMeterhouseClient(options: MeterhouseClientOptions): MeterhouseClient {
  return new BufferedClient(resolveOptions(options));
}

/** One serialized event; seq orders events, so a flush knows when everything before it is settled. */
interface Item {
  seq: number;
  event: UsageEvent;
  body: string;
  bytes: number;
}

type Internals = Pick<DeliveryDeps, 'sleep' | 'random'>;
const realInternals: Internals = { sleep: (ms) => new Promise((r) => setTimeout(r, ms)), random: Math.random };

/**
 * One FIFO buffer, one request in flight. The bound counts every event not yet
 * settled (queued and in flight), so memory stays bounded while the server is
 * down. Batches settle in order, so "settled up to seq n" is one number.
 */
export class BufferedClient implements MeterhouseClient {
  private readonly queue: Item[] = [];
  private readonly waiting: { item: Item; admitted: () => void }[] = [];
  private readonly flushes: { target: number; done: () => void }[] = [];
  private readonly totals: ClientStats = { accepted: 0, duplicates: 0, rejected: 0, dropped: 0, retries: 0, requests: 0, bufferedEvents: 0, bufferedBytes: 0 };
  private queuedBytes = 0;
  private lastSeq = 0;
  private settledSeq = 0;
  private flushTarget = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private due = false;
  private running = false;
  private closing = false;

  private readonly deliveryDeps: DeliveryDeps;

  constructor(
    private readonly o: ResolvedOptions,
    internals: Internals = realInternals,
  ) {
    this.deliveryDeps = {
      options: o,
      sleep: internals.sleep,
      random: internals.random,
      onRequest: () => void this.totals.requests++,
      onRetry: (detail) => {
        this.totals.retries++;
        this.hook(() => this.o.metrics.retried?.(detail));
      },
    };
  }

  record(input: RecordedEvent): Promise<string> {
    // The id and the time are fixed here, so every retry sends the same event.
    const event: UsageEvent = { ...input, eventId: input.eventId ?? this.o.generateId(), timestamp: input.timestamp ?? this.o.now() };
    const done = Promise.resolve(event.eventId);
    if (this.closing) return (this.drop([event], 'closed'), done);
    const body = this.serialize(event);
    if (body === null) return done;
    const bytes = byteLength(body);
    if (bytes + batchOverhead(1) > this.o.maxBatchBytes || bytes > this.o.maxBufferBytes) return (this.drop([event], 'too_large'), done);
    const fits = this.waiting.length === 0 && this.hasRoom(bytes);
    if (!fits && this.o.whenFull === 'drop') return (this.drop([event], 'buffer_full'), done);
    const item = { seq: ++this.lastSeq, event, body, bytes };
    if (fits) return (this.enqueue(item), done);
    return new Promise((resolve) => this.waiting.push({ item, admitted: () => resolve(event.eventId) }));
  }

  flush(): Promise<void> {
    const target = this.lastSeq;
    if (target <= this.settledSeq) return Promise.resolve();
    this.flushTarget = Math.max(this.flushTarget, target);
    const flushed = new Promise<void>((done) => this.flushes.push({ target, done }));
    this.kick();
    return flushed;
  }

  async close(): Promise<void> {
    this.closing = true;
    await this.flush();
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  stats(): ClientStats {
    return { ...this.totals };
  }

  /** The wire form, or null when the event cannot have one (reported as rejected, status 0: refused before sending). */
  private serialize(event: UsageEvent): string | null {
    try {
      if (this.o.format === 'usage') return JSON.stringify(event);
      const ce = toCloudEvent(event, this.o.source);
      if (ce.ok) return JSON.stringify(ce.value);
      this.reject([{ eventId: event.eventId, event, errors: ce.errors, status: 0 }]);
    } catch (error) {
      this.reject([{ eventId: event.eventId, event, errors: [{ path: '', message: `cannot be sent as JSON: ${String(error)}` }], status: 0 }]);
    }
    return null;
  }

  private hasRoom(bytes: number): boolean {
    return this.totals.bufferedEvents < this.o.maxBufferEvents && this.totals.bufferedBytes + bytes <= this.o.maxBufferBytes;
  }

  private enqueue(item: Item): void {
    this.queue.push(item);
    this.queuedBytes += item.bytes;
    this.totals.bufferedEvents++;
    this.totals.bufferedBytes += item.bytes;
    this.depthChanged();
    if (this.batchReady()) this.kick();
    else this.armTimer();
  }

  private batchReady(): boolean {
    return this.queue.length >= this.o.batchSize || this.queuedBytes + batchOverhead(this.queue.length) >= this.o.maxBatchBytes;
  }

  private armTimer(): void {
    if (this.timer || this.queue.length === 0) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.due = true;
      this.kick();
    }, this.o.flushIntervalMs);
  }

  private kick(): void {
    if (this.running) return;
    this.running = true;
    void this.run();
  }

  private async run(): Promise<void> {
    try {
      while (this.queue.length > 0 && (this.due || this.batchReady() || this.flushTarget > this.settledSeq)) {
        const batch = this.takeBatch();
        const delivery = await deliver(batchBody(batch.map((i) => i.body)), batch.length, this.deliveryDeps);
        this.settle(batch, delivery);
      }
    } finally {
      // Synchronously after the last check: a record() from now on sees running === false and kicks.
      this.running = false;
    }
    if (this.queue.length === 0) this.due = false;
    this.armTimer();
  }

  /** Oldest first, up to batchSize events and maxBatchBytes (at least one event: each fits, record() checked). */
  private takeBatch(): Item[] {
    let n = 0;
    let bytes = 0;
    while (n < this.queue.length && n < this.o.batchSize) {
      const next = bytes + this.queue[n]!.bytes;
      if (n > 0 && next + batchOverhead(n + 1) > this.o.maxBatchBytes) break;
      bytes = next;
      n++;
    }
    this.queuedBytes -= bytes;
    return this.queue.splice(0, n);
  }

  private settle(batch: Item[], delivery: Delivery): void {
    this.totals.bufferedEvents -= batch.length;
    for (const item of batch) this.totals.bufferedBytes -= item.bytes;
    this.settledSeq = batch.at(-1)!.seq;
    this.depthChanged();
    if (delivery.kind === 'exhausted')
      this.drop(
        batch.map((i) => i.event),
        'retries_exhausted',
      );
    else if (delivery.kind === 'refused') {
      const errors = [{ path: '', message: delivery.message }];
      this.reject(
        batch.map((i) => ({ eventId: i.event.eventId, event: i.event, errors, status: delivery.status, ...(delivery.code ? { code: delivery.code } : {}) })),
      );
    } else {
      const rejections: Rejection[] = [];
      let accepted = 0;
      let duplicates = 0;
      delivery.results.forEach((r, index) => {
        const { event } = batch[index]!;
        if (r.status === 'accepted') accepted++;
        else if (r.status === 'duplicate') duplicates++;
        else rejections.push({ eventId: event.eventId, event, errors: r.errors ?? [], status: delivery.status });
      });
      this.totals.accepted += accepted;
      this.totals.duplicates += duplicates;
      if (accepted + duplicates > 0) this.hook(() => this.o.metrics.sent?.(accepted + duplicates, { accepted, duplicates }));
      if (rejections.length > 0) this.reject(rejections);
    }
    this.admitWaiting();
    for (const f of this.flushes.filter((f) => f.target <= this.settledSeq)) {
      this.flushes.splice(this.flushes.indexOf(f), 1);
      f.done();
    }
  }

  /** 'wait' policy: move waiting events into the buffer, oldest first, while they fit. */
  private admitWaiting(): void {
    while (this.waiting.length > 0 && this.hasRoom(this.waiting[0]!.item.bytes)) {
      const { item, admitted } = this.waiting.shift()!;
      this.enqueue(item);
      admitted();
    }
  }

  private reject(rejections: Rejection[]): void {
    this.totals.rejected += rejections.length;
    this.hook(() => this.o.metrics.rejected?.(rejections.length));
    this.hook(() => this.o.onRejected(rejections));
  }

  private drop(events: UsageEvent[], reason: DropReason): void {
    this.totals.dropped += events.length;
    this.hook(() => this.o.metrics.dropped?.(events.length, reason));
    this.hook(() => this.o.onDropped(events, reason));
  }

  private depthChanged(): void {
    this.hook(() => this.o.metrics.bufferDepth?.(this.totals.bufferedEvents, this.totals.bufferedBytes));
  }

  /** A callback that throws must not break delivery: its error is rethrown outside the client, as an uncaught exception. */
  private hook(call: () => void): void {
    try {
      call();
    } catch (error) {
      queueMicrotask(() => {
        throw error;
      });
    }
  }
}
