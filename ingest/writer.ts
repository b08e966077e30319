import { TABLES } from '../sql/names.js';
import { EVENT_INSERT_SETTINGS } from '../sql/datasets/usage-events.js';
import { insertCsv, insertRows, type Db } from '../sql/query.js';
import { EVENT_CSV_COLUMNS, EVENT_CSV_SETTINGS, eventsCsv } from './event-csv.js';
import { storedIdentities, type Identity } from '../sql/queries/event-lookup.js';
import type { EventRow } from './normalise.js';
import { insertIsolating } from './isolating-insert.js';
import { hasIllFormedText } from './text.js';
import { IdentitySet } from './identity-set.js';
import { PendingRow, WriteCall, type Pending } from './write-call.js';

/** 'refused': the engine can never store this row as it is (a permanent per-event error, not worth a retry). */
export type WriteOutcome = 'accepted' | 'duplicate' | 'refused';

/** Where accepted events go: straight into ClickHouse (DirectWriter) or into Kafka (KafkaSink). */
export interface EventSink {
  /** Store rows; resolves with one outcome per row, in order, once all are durable. */
  write(rows: readonly EventRow[]): Promise<WriteOutcome[]>;
  /** Refuse new writes and settle what is in flight. */
  close(): Promise<void>;
}

export interface WriterOptions {
  /** Flush as soon as this many events wait. */
  batchRows: number;
  /** Flush at the latest this long after the first event arrived. */
  flushIntervalMs: number;
  /** Events waiting or in flight, at most; beyond it writes are refused (back-pressure). */
  maxQueuedEvents: number;
  /** Ids per existence lookup on a server (bounds the size of one query's parameters); the embedded lookup takes the whole batch. */
  lookupChunk?: number;
  /** Called after each batch with the rows it stored (already acknowledged): usage alerts evaluate what they touched. */
  onStored?: (rows: readonly EventRow[]) => void;
}

/** The writer is full: the caller should answer 503 with Retry-After. */
export class WriterFullError extends Error {
  override readonly name = 'WriterFullError';
  readonly retryAfterSeconds = 1;
}

export class WriterClosedError extends Error {
  override readonly name = 'WriterClosedError';
}

/** A batch after the writer's checks and lookup, before its insert. */
interface Prepared {
  storable: Pending[];
  outcome: WriteOutcome[];
}

/** What a committed batch stored; `unsure`: an insert failed, so the table may hold more. */
interface Committed {
  stored: IdentitySet;
  unsure: boolean;
}
const NOTHING_STORED: Committed = { stored: new IdentitySet(), unsure: false };
const NOTHING_STORED_UNSURE: Committed = { stored: new IdentitySet(), unsure: true };

/**
 * The direct ingest path: buffers events, writes them in batches, and settles
 * each event's promise only after its batch is committed in ClickHouse.
 *
 * Exactly-once: batches are written one at a time. Each batch first drops
 * repeats of an identity within itself (the first one wins), then asks the
 * table which identities it already holds, and inserts only the rest. Because
 * no other batch runs in between, an identity is stored once however many
 * clients send it at the same moment.
 */
export class DirectWriter implements EventSink {
  private queue: Pending[] = [];
  private inFlight = 0;
  private timer: NodeJS.Timeout | undefined;
  private draining: Promise<void> | undefined;
  private closed = false;

  constructor(
    private readonly db: Db,
    private readonly options: WriterOptions,
    private readonly onBatchError: (error: unknown, events: number) => void = () => {},
  ) {}

  /** Events accepted into the buffer and not yet settled. */
  get queued(): number {
    return this.queue.length + this.inFlight;
  }

  /** Store rows; resolves with one outcome per row, in order, once all are durable. */
  write(rows: readonly EventRow[]): Promise<WriteOutcome[]> {
    if (this.closed) return Promise.reject(new WriterClosedError('the writer is shutting down'));
    if (this.queued + rows.length > this.options.maxQueuedEvents) return Promise.reject(new WriterFullError('ingest buffer is full'));
    const call = new WriteCall(rows.length);
    for (let i = 0; i < rows.length; i++) this.queue.push(new PendingRow(rows[i]!, call, i));
    this.schedule();
    return call.done;
  }

  /** Write everything buffered now and wait for it. */
  async flush(): Promise<void> {
    this.clearTimer();
    while (this.queue.length > 0 || this.draining) await this.drain();
  }

  /** Refuse new writes, then write what is buffered. */
  async close(): Promise<void> {
    this.closed = true;
    await this.flush();
  }

  private schedule(): void {
    if (this.queue.length >= this.options.batchRows) {
      this.clearTimer();
      void this.drain();
    } else if (!this.timer && !this.draining) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        void this.drain();
      }, this.options.flushIntervalMs);
    }
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /**
   * One drain loop at a time; it keeps writing batches while events wait (group commit).
   * Pipelined: while the engine inserts batch N, batch N+1 is checked and its identities are looked
   * up, so the engine never waits for the writer's own work. Inserts stay one at a time, and batch
   * N+1 commits only after N settled, taking N's stored identities as already stored (its lookup may
   * have run before N's rows were visible).
   */
  private drain(): Promise<void> {
    this.draining ??= (async () => {
      // Yield once, so this promise is stored in `draining` before its `finally` can clear it.
      await Promise.resolve();
      let previous: Promise<Committed> | undefined;
      try {
        for (;;) {
          if (this.queue.length === 0) {
            if (!previous) break;
            // Rows may arrive while the last batch commits: they start a new batch once it has (their lookup then sees it).
            await previous;
            previous = undefined;
            continue;
          }
          const batch = this.queue.splice(0, this.options.batchRows);
          this.inFlight += batch.length;
          const prepared = this.prepare(batch).catch((error: unknown) => ({ error }));
          const before = previous;
          previous = (async (): Promise<Committed> => {
            const earlier = before ? await before : NOTHING_STORED;
            try {
              const p = await prepared;
              if ('error' in p) throw p.error;
              return await this.commit(p, earlier);
            } catch (error) {
              this.onBatchError(error, batch.length);
              for (const pending of batch) pending.reject(error);
              return NOTHING_STORED_UNSURE;
            } finally {
              this.inFlight -= batch.length;
            }
          })();
          // Look ahead by one batch: wait for the batch before this one, so at most two are in flight.
          if (before) await before;
          // Give the requests that arrived meanwhile a turn to join the next batch.
          if (this.queue.length < this.options.batchRows) await new Promise((r) => setImmediate(r));
        }
      } finally {
        this.draining = undefined;
      }
    })();
    return this.draining;
  }

  /** The writer's own work on a batch before its insert: drop text the engine cannot keep, find repeats and stored identities. */
  private async prepare(batch: Pending[]): Promise<Prepared> {
    // Validation already refuses text the engine cannot keep; a row that still holds some never reaches a query.
    const storable = batch.filter((p) => {
      if (!hasIllFormedText(p.row)) return true;
      p.resolve('refused');
      return false;
    });
    return { storable, outcome: await this.lookup(storable) };
  }

  private lookup(storable: Pending[]): Promise<WriteOutcome[]> {
    return outcomesOf(
      this.db,
      storable.map((p) => p.row),
      'ingest.writer',
      this.options.lookupChunk,
    );
  }

  /**
   * One batch, settled row by row: a row the engine refuses is answered
   * 'refused' and its neighbours (other requests, other tenants) are stored.
   * Only a storage failure (not the rows' fault) fails the rows it concerns.
   * `earlier`: what the batch before this one stored (its lookup may not have seen those rows).
   */
  private async commit({ storable, outcome }: Prepared, earlier: Committed): Promise<Committed> {
    // The batch before this one failed to store some rows: its lookup ran while they might have been written, so look again.
    if (earlier.unsure) outcome = await this.lookup(storable);
    const fresh: Pending[] = [];
    for (let i = 0; i < storable.length; i++) {
      if (outcome[i] === 'accepted' && earlier.stored.size > 0 && earlier.stored.has(storable[i]!.row)) outcome[i] = 'duplicate';
      if (outcome[i] === 'accepted') fresh.push(storable[i]!);
    }
    const results = await insertIsolating(
      (rows) => this.insert(rows),
      fresh.map((p) => p.row),
    );
    const stored = new IdentitySet();
    const storedRows: EventRow[] = [];
    // A repeat (in this batch) of a refused event is refused too: nothing of that identity was stored.
    const refused = new IdentitySet();
    let failed = 0;
    let firstFailure: unknown;
    for (let i = 0; i < fresh.length; i++) {
      const r = results[i]!;
      if (r.status === 'stored') {
        stored.add(fresh[i]!.row);
        storedRows.push(fresh[i]!.row);
      } else if (r.status === 'refused') refused.add(fresh[i]!.row);
      else if (failed++ === 0) firstFailure = r.error;
    }
    for (let i = 0; i < storable.length; i++) {
      if (outcome[i] === 'duplicate') storable[i]!.resolve(refused.size > 0 && refused.has(storable[i]!.row) ? 'refused' : 'duplicate');
    }
    if (failed > 0) this.onBatchError(firstFailure, failed);
    for (let i = 0; i < fresh.length; i++) {
      const r = results[i]!;
      if (r.status === 'failed') fresh[i]!.reject(r.error);
      else fresh[i]!.resolve(r.status === 'stored' ? 'accepted' : 'refused');
    }
    if (storedRows.length > 0) this.options.onStored?.(storedRows);
    return { stored, unsure: failed > 0 };
  }

  private insert(rows: readonly EventRow[]): Promise<void> {
    return insertEvents(this.db, rows, 'ingest.writer');
  }
}

/**
 * The writer's insert of event rows into usage_events (and its views). Embedded: as CSV, which costs the engine
 * and Node less than JSON (ingest/event-csv.ts); a batch CSV cannot carry, and a server, take JSON.
 */
export function insertEvents(db: Db, rows: readonly EventRow[], job: string): Promise<void> {
  const csv = db.rawInsert && eventsCsv(rows);
  if (csv)
    return insertCsv(
      db.rawInsert!,
      db.database,
      'events.insert',
      TABLES.usageEvents,
      EVENT_CSV_COLUMNS,
      csv,
      { job },
      { ...EVENT_INSERT_SETTINGS, ...EVENT_CSV_SETTINGS },
    );
  return insertRows(db, 'events.insert', TABLES.usageEvents, rows, { job }, EVENT_INSERT_SETTINGS);
}

/**
 * For each row: 'duplicate' when an earlier row here has its identity (the
 * first one wins) or the table already holds it, else 'accepted'.
 */
export async function outcomesOf(db: Db, rows: readonly EventRow[], job: string, lookupChunk = 5000): Promise<WriteOutcome[]> {
  // tenant -> eventId -> index of the first occurrence
  const firsts = new Map<string, Map<string, number>>();
  const outcome = new Array<WriteOutcome>(rows.length);
  const identities: Identity[] = [];
  for (let i = 0; i < rows.length; i++) {
    const { tenant_id, event_id } = rows[i]!;
    let ids = firsts.get(tenant_id);
    if (!ids) firsts.set(tenant_id, (ids = new Map()));
    if (ids.has(event_id)) {
      outcome[i] = 'duplicate';
      continue;
    }
    ids.set(event_id, i);
    outcome[i] = 'accepted';
    identities.push({ tenant_id, event_id });
  }
  for (const { tenant_id, event_id } of await storedIdentities(db, identities, { job }, lookupChunk)) {
    const i = firsts.get(tenant_id)?.get(event_id);
    if (i !== undefined) outcome[i] = 'duplicate';
  }
  return outcome;
}
