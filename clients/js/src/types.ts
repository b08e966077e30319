import type { components } from './openapi.js';

type Schemas = components['schemas'];

/** An event as meterhouse stores it (the server's UsageEvent schema). */
export type UsageEvent = Schemas['UsageEvent'];
/** What `record()` takes: a usage event whose eventId the client assigns when it is missing. */
export type RecordedEvent = Omit<UsageEvent, 'eventId'> & { eventId?: string };
/** The server's answer to POST /v1/events (200, 207 or 422). */
export type IngestResponse = Schemas['IngestResponse'];
export type EventResult = Schemas['EventResult'];
/** The server's one error body. */
export type ErrorBody = Schemas['Error'];
export type EventError = NonNullable<EventResult['errors']>[number];

/** An event the server (or, for a CloudEvents mapping, the client) refused: never retried. */
export interface Rejection {
  eventId: string;
  event: UsageEvent;
  /** What is wrong, at the path of the event as sent. */
  errors: EventError[];
  /** The HTTP status that carried it (207/422 per event, or the status of a refused request); 0 when refused before sending. */
  status: number;
  /** The server's error code when the whole request was refused (e.g. `unauthorized`). */
  code?: string;
}

export type DropReason =
  /** The buffer was full and `whenFull` is 'drop'. */
  | 'buffer_full'
  /** The event alone is larger than `maxBatchBytes` or `maxBufferBytes`. */
  | 'too_large'
  /** Recorded after `close()`. */
  | 'closed'
  /** Every attempt failed with a retryable error (network, 429, 5xx). */
  | 'retries_exhausted';

export interface MetricsHooks {
  /** Events the server acknowledged as stored, in one answer (duplicates included: they were stored before). */
  sent?(events: number, detail: { accepted: number; duplicates: number }): void;
  /** A request is retried after `delayMs`. */
  retried?(detail: { events: number; attempt: number; delayMs: number; reason: string }): void;
  rejected?(events: number): void;
  dropped?(events: number, reason: DropReason): void;
  /** The buffer holds this much (in-flight events included) after it changed. */
  bufferDepth?(events: number, bytes: number): void;
}

/** Running totals since the client was created. */
export interface ClientStats {
  accepted: number;
  duplicates: number;
  rejected: number;
  dropped: number;
  retries: number;
  requests: number;
  bufferedEvents: number;
  bufferedBytes: number;
}
