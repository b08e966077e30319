import { usageEventSchema, issuesOf, RESERVED_DIMENSION_KEY, type EventIssue } from './schema.js';
import { fromCloudEvent, cloudEventPath } from './cloudevents.js';
import { parseDecimal, isNegativeDecimal } from './decimal.js';
import { tooOldMessage } from '../domain/retention.js';
import { JsonNumber, withPlainNumbers } from './json-body.js';
import { parseInstant } from './time.js';
import { plainUsageEvent } from './plain-event.js';

/** A validated event in storage shape (columns of usage_events; stored_at and version are the engine's). */
export interface EventRow {
  tenant_id: string;
  event_id: string;
  customer_id: string;
  product_id: string;
  metric_name: string;
  /** Event time, epoch milliseconds. */
  timestamp: number;
  /** Exact decimal string. */
  quantity: string;
  dimensions: Record<string, string>;
  source: string;
  source_version: string;
  request_id: string;
  /** API receive time, epoch milliseconds. */
  ingested_at: number;
}

export type EventFormat = 'usage' | 'cloudevents';

export interface NormaliseContext {
  /** From the API key, never from the payload. */
  tenantId: string;
  receivedAtMs: number;
  maxFutureSkewMs: number;
  /** How old an event may be (domain/retention.ts); absent when raw events are kept forever. */
  maxAgeMs?: number | undefined;
  format: EventFormat;
}

export type ValidatedEvent =
  { index: number; eventId: string; row: EventRow; errors?: undefined } | { index: number; eventId: string | undefined; row?: undefined; errors: EventIssue[] };

function claimedEventId(input: unknown, format: EventFormat): string | undefined {
  if (typeof input !== 'object' || input === null) return undefined;
  const id = (input as Record<string, unknown>)[format === 'cloudevents' ? 'id' : 'eventId'];
  if (typeof id !== 'string') return undefined;
  // By code points, so the echo never ends in half of a surrogate pair (within 256 UTF-16 units it is whole).
  return id.length <= 256 ? id : Array.from(id).slice(0, 256).join('');
}

function failed(index: number, eventId: string | undefined, format: EventFormat, errors: EventIssue[]): ValidatedEvent {
  return { index, eventId, errors: format === 'cloudevents' ? errors.map((e) => ({ ...e, path: cloudEventPath(e.path) })) : errors };
}

// A JSON object (a JsonNumber is a number, not an object).
const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof JsonNumber);

/** Validate and normalise one input event; every problem is reported, with its path in the client's own format. */
export function normaliseEvent(sent: unknown, index: number, ctx: NormaliseContext): ValidatedEvent {
  const input = sent instanceof JsonNumber ? Number(sent.text) : sent;
  const eventId = claimedEventId(input, ctx.format);

  let candidate: unknown = input;
  if (ctx.format === 'cloudevents') {
    const mapped = fromCloudEvent(input);
    if (!mapped.ok) return { index, eventId, errors: mapped.issues };
    candidate = mapped.event;
  }
  if (!isRecord(candidate)) return failed(index, eventId, ctx.format, [{ path: '', message: 'an event must be a JSON object' }]);
  // A quantity sent as a JSON number is read from its source text, never through a float.
  const quantityNumber = candidate.quantity instanceof JsonNumber ? candidate.quantity.text : undefined;
  // The common case in one pass (ingest/plain-event.ts); anything it does not vouch for is zod's to judge and explain.
  let event = plainUsageEvent(candidate);
  if (!event) {
    // zod skips a "__proto__" key of a record silently: refuse it here, whatever its value.
    const reserved: EventIssue[] =
      isRecord(candidate.dimensions) && Object.hasOwn(candidate.dimensions, RESERVED_DIMENSION_KEY)
        ? [{ path: `dimensions.${RESERVED_DIMENSION_KEY}`, message: 'is a reserved name, not allowed as a dimension key' }]
        : [];
    const parsed = usageEventSchema.safeParse(withPlainNumbers(candidate));
    if (!parsed.success || reserved.length > 0) return failed(index, eventId, ctx.format, [...reserved, ...(parsed.success ? [] : issuesOf(parsed.error))]);
    event = parsed.data;
  }
  const errors: EventIssue[] = [];

  let timestamp = ctx.receivedAtMs;
  if (event.timestamp !== undefined) {
    const t = parseInstant(event.timestamp);
    if (!t.ok) errors.push({ path: 'timestamp', message: t.message });
    else if (t.epochMs > ctx.receivedAtMs + ctx.maxFutureSkewMs) {
      errors.push({ path: 'timestamp', message: `is more than ${Math.round(ctx.maxFutureSkewMs / 1000)} s in the future` });
    } else if (ctx.maxAgeMs !== undefined && t.epochMs < ctx.receivedAtMs - ctx.maxAgeMs) {
      errors.push({ path: 'timestamp', message: tooOldMessage(ctx.maxAgeMs) });
    } else timestamp = t.epochMs;
  }

  let quantity = '1';
  if (event.quantity !== undefined) {
    const q = parseDecimal(quantityNumber !== undefined ? { jsonNumber: quantityNumber } : event.quantity);
    if (!q.ok) errors.push({ path: 'quantity', message: q.message });
    else if (isNegativeDecimal(q.value)) errors.push({ path: 'quantity', message: 'must not be negative' });
    else quantity = q.value;
  }
  if (errors.length > 0) return failed(index, eventId, ctx.format, errors);

  return {
    index,
    eventId: event.eventId,
    row: {
      tenant_id: ctx.tenantId,
      event_id: event.eventId,
      customer_id: event.customerId,
      product_id: event.productId ?? '',
      metric_name: event.metricName,
      timestamp,
      quantity,
      dimensions: canonicalDimensions(event.dimensions),
      source: event.metadata?.source ?? '',
      source_version: event.metadata?.version ?? '',
      request_id: event.metadata?.requestId ?? '',
      ingested_at: ctx.receivedAtMs,
    },
  };
}

/**
 * Keys in one canonical order (by UTF-16 code units), so equal dimension maps are equal rollup keys. Keys
 * already in that order (most events: none or one key, or a client that sorts) keep the validated object
 * itself: a copy is made only to reorder.
 */
export function canonicalDimensions(dimensions: Record<string, string> | undefined): Record<string, string> {
  if (dimensions === undefined) return {};
  let previous: string | undefined;
  for (const key in dimensions) {
    if (previous !== undefined && !(previous < key)) {
      return Object.fromEntries(Object.entries(dimensions).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    }
    previous = key;
  }
  return dimensions;
}

export type BodyShape = 'usage' | 'cloudevent' | 'cloudevents-batch';

/** The list of events in a parsed request body, or why the body has none. */
export function eventsInBody(body: unknown, shape: BodyShape): { events: unknown[] } | { error: string } {
  if (shape === 'cloudevents-batch') {
    return Array.isArray(body) ? { events: body } : { error: 'a CloudEvents batch must be a JSON array of CloudEvents' };
  }
  if (shape === 'cloudevent') {
    return isRecord(body) ? { events: [body] } : { error: 'a structured CloudEvent must be a JSON object' };
  }
  if (Array.isArray(body)) return { events: body };
  if (isRecord(body)) {
    const events = (body as { events?: unknown }).events;
    if (events === undefined) return { events: [body] };
    if (Array.isArray(events) && Object.keys(body).length === 1) return { events };
    return { error: 'a batch must be { "events": [ ... ] } with no other fields' };
  }
  return { error: 'the body must be an event object, an array of events, or { "events": [ ... ] }' };
}
