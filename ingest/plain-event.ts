import { EVENT_LIMITS, METRIC_NAME, RESERVED_DIMENSION_KEY, type UsageEvent } from './schema.js';
import { isWellFormed } from './text.js';
import { JsonNumber } from './json-body.js';
import { NO_CONTROL_CHARS } from '../sql/control-chars.js';

/**
 * The ingest hot path's check of one usage event: the common case (every field
 * plainly valid) in one pass over the object, with no copy of it, no issue list
 * and no closure per event. It answers the event only when usageEventSchema
 * would accept it with the same data; anything else (a wrong type, a limit
 * reached, a string longer in UTF-16 units than a limit in code points, an
 * unknown key, `__proto__`) answers undefined and the caller asks zod, whose
 * answer and messages stay the contract. ingest/plain-event.test.ts compares
 * the two on generated events, valid and not.
 *
 * Numbers may arrive as JsonNumber (ingest/json-body.ts): read as zod would
 * read them after withPlainNumbers (Number(text)).
 */
export function plainUsageEvent(input: Record<string, unknown>): UsageEvent | undefined {
  let eventId: string | undefined;
  let customerId: string | undefined;
  let metricName: string | undefined;
  let productId: string | undefined;
  let timestamp: number | string | undefined;
  let quantity: number | string | undefined;
  let dimensions: Record<string, string> | undefined;
  let metadata: UsageEvent['metadata'];
  for (const key in input) {
    if (!Object.hasOwn(input, key)) return undefined;
    const value = input[key];
    switch (key) {
      case 'eventId':
        if (!printable(value, EVENT_LIMITS.idLength)) return undefined;
        eventId = value;
        break;
      case 'customerId':
        if (!printable(value, EVENT_LIMITS.idLength)) return undefined;
        customerId = value;
        break;
      case 'productId':
        if (!printable(value, EVENT_LIMITS.idLength)) return undefined;
        productId = value;
        break;
      case 'metricName':
        if (!printable(value, EVENT_LIMITS.metricNameLength) || !METRIC_NAME.test(value)) return undefined;
        metricName = value;
        break;
      case 'timestamp':
      case 'quantity': {
        const v = numberOrString(value);
        if (v === undefined) return undefined;
        if (key === 'timestamp') timestamp = v;
        else quantity = v;
        break;
      }
      case 'dimensions':
        if (!plainDimensions(value)) return undefined;
        dimensions = value;
        break;
      case 'metadata': {
        const m = plainMetadata(value);
        if (!m) return undefined;
        metadata = m;
        break;
      }
      default:
        return undefined;
    }
  }
  if (eventId === undefined || customerId === undefined || metricName === undefined) return undefined;
  const event: UsageEvent = { eventId, customerId, metricName };
  if (productId !== undefined) event.productId = productId;
  if (timestamp !== undefined) event.timestamp = timestamp;
  if (quantity !== undefined) event.quantity = quantity;
  if (dimensions !== undefined) event.dimensions = dimensions;
  if (metadata !== undefined) event.metadata = metadata;
  return event;
}

/** Text within `max` UTF-16 units (so within `max` code points), without control characters, well-formed. */
function text(value: unknown, max: number): value is string {
  return typeof value === 'string' && value.length <= max && NO_CONTROL_CHARS.test(value) && isWellFormed(value);
}

const printable = (value: unknown, max: number): value is string => text(value, max) && value.length > 0;

/** A finite number (as JSON can hold) or a string; zod's z.number() refuses the rest. */
function numberOrString(value: unknown): number | string | undefined {
  if (typeof value === 'string') return value;
  const n = value instanceof JsonNumber ? Number(value.text) : value;
  return typeof n === 'number' && Number.isFinite(n) ? n : undefined;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && Object.getPrototypeOf(value) === Object.prototype;
}

function plainDimensions(value: unknown): value is Record<string, string> {
  if (!isPlainObject(value)) return false;
  let count = 0;
  for (const key in value) {
    if (!Object.hasOwn(value, key) || key === RESERVED_DIMENSION_KEY) return false;
    if (++count > EVENT_LIMITS.dimensionCount) return false;
    if (!printable(key, EVENT_LIMITS.dimensionKeyLength) || !text(value[key], EVENT_LIMITS.dimensionValueLength)) return false;
  }
  return true;
}

function plainMetadata(value: unknown): UsageEvent['metadata'] | undefined {
  if (!isPlainObject(value)) return undefined;
  const out: NonNullable<UsageEvent['metadata']> = {};
  for (const key in value) {
    if (!Object.hasOwn(value, key)) return undefined;
    if (key !== 'source' && key !== 'version' && key !== 'requestId') return undefined;
    const v = value[key];
    if (!printable(v, EVENT_LIMITS.metadataLength)) return undefined;
    out[key] = v;
  }
  return out;
}
