import type { EventError, UsageEvent } from './types.js';

export const CONTENT_TYPES = {
  usage: 'application/json',
  cloudevents: 'application/cloudevents-batch+json',
} as const;

const encoder = new TextEncoder();
export const byteLength = (text: string): number => encoder.encode(text).length;

/** A batch body: the events' serialized forms in a JSON array (each was serialized once, at record). */
export const batchBody = (serialized: readonly string[]): string => `[${serialized.join(',')}]`;
/** Bytes a batch of n events adds around the events themselves: the brackets and the commas. */
export const batchOverhead = (n: number): number => 2 + Math.max(0, n - 1);

/**
 * The CloudEvents 1.0 form of a usage event, as meterhouse maps it back
 * (README "CloudEvents"): id, source, type, subject, time, data.quantity and
 * the dimensions as the other data fields. A field CloudEvents cannot carry
 * (productId, metadata.version/requestId, a dimension named "quantity") is
 * an error, never silently left out.
 */
export function toCloudEvent(event: UsageEvent, defaultSource: string): { ok: true; value: Record<string, unknown> } | { ok: false; errors: EventError[] } {
  const errors: EventError[] = [];
  if (event.productId !== undefined) errors.push({ path: 'productId', message: 'has no CloudEvents mapping: send this event with format "usage"' });
  for (const key of ['version', 'requestId'] as const) {
    if (event.metadata?.[key] !== undefined)
      errors.push({ path: `metadata.${key}`, message: 'has no CloudEvents mapping: send this event with format "usage"' });
  }
  if (event.dimensions && Object.hasOwn(event.dimensions, 'quantity')) {
    errors.push({ path: 'dimensions.quantity', message: 'would be read back as the quantity in CloudEvents data: rename it or send with format "usage"' });
  }
  if (errors.length > 0) return { ok: false, errors };
  const data: Record<string, unknown> = { ...event.dimensions };
  if (event.quantity !== undefined) data.quantity = event.quantity;
  const value: Record<string, unknown> = {
    specversion: '1.0',
    id: event.eventId,
    source: event.metadata?.source ?? defaultSource,
    type: event.metricName,
    subject: event.customerId,
  };
  // epoch ms becomes RFC 3339 (CloudEvents `time` is a timestamp string); a string is sent as given
  if (event.timestamp !== undefined) value.time = isEpochMs(event.timestamp) ? new Date(event.timestamp).toISOString() : event.timestamp;
  if (Object.keys(data).length > 0) {
    value.datacontenttype = 'application/json';
    value.data = data;
  }
  return { ok: true, value };
}

/** An integer epoch-ms value a Date can represent exactly (anything else goes as sent, for the server to judge). */
const isEpochMs = (t: unknown): t is number => Number.isSafeInteger(t) && Math.abs(t as number) <= 8.64e15;
