export { createMeterhouseClient, type MeterhouseClient } from './client.js';
export type { MeterhouseClientOptions, RetryOptions } from './options.js';
export type {
  ClientStats,
  DropReason,
  ErrorBody,
  EventError,
  EventResult,
  IngestResponse,
  MetricsHooks,
  RecordedEvent,
  Rejection,
  UsageEvent,
} from './types.js';
export type { components, paths } from './openapi.js';
