import { z } from 'zod';
import { RESERVED_DIMENSION_KEY, type EventIssue } from './schema.js';
import { JsonNumber } from './json-body.js';

/**
 * CloudEvents 1.0 (structured JSON) mapped onto the usage event:
 * id -> eventId, source -> metadata.source, type -> metricName,
 * subject -> customerId, time -> timestamp, data.quantity -> quantity,
 * every other scalar field of data -> a dimension (as a string; a number as
 * the client spelt it, so 1.50 stays "1.50").
 */
export const cloudEventSchema = z
  .looseObject({
    specversion: z.literal('1.0', { message: 'must be "1.0"' }),
    id: z.unknown(),
    source: z.unknown(),
    type: z.unknown(),
    subject: z.unknown().optional(),
    time: z.unknown().optional(),
    datacontenttype: z.string().optional(),
    data: z.record(z.string(), z.unknown()).optional(),
  })
  .meta({ id: 'CloudEvent' });

const PATHS_BACK: Record<string, string> = {
  eventId: 'id',
  customerId: 'subject',
  metricName: 'type',
  timestamp: 'time',
  quantity: 'data.quantity',
  'metadata.source': 'source',
};

/** Translate an issue path of the mapped usage event back to the CloudEvent the client sent. */
export function cloudEventPath(path: string): string {
  if (PATHS_BACK[path]) return PATHS_BACK[path];
  if (path.startsWith('dimensions.')) return `data.${path.slice('dimensions.'.length)}`;
  return path;
}

export type CloudEventMapping = { ok: true; event: Record<string, unknown> } | { ok: false; issues: EventIssue[] };

export function fromCloudEvent(input: unknown): CloudEventMapping {
  const data = typeof input === 'object' && input !== null ? (input as { data?: unknown }).data : undefined;
  // zod skips a "__proto__" key of a record silently: refuse it, as for the dimensions it would become.
  if (typeof data === 'object' && data !== null && Object.hasOwn(data, RESERVED_DIMENSION_KEY)) {
    return { ok: false, issues: [{ path: `data.${RESERVED_DIMENSION_KEY}`, message: 'is a reserved name, not allowed as a dimension key' }] };
  }
  const parsed = cloudEventSchema.safeParse(input);
  if (!parsed.success) {
    return { ok: false, issues: parsed.error.issues.map((i) => ({ path: i.path.map(String).join('.'), message: i.message })) };
  }
  const ce = parsed.data;
  const { quantity, ...rest } = ce.data ?? {};
  const dimensions: Record<string, string> = {};
  const issues: EventIssue[] = [];
  for (const [key, value] of Object.entries(rest)) {
    if (value instanceof JsonNumber) dimensions[key] = value.text;
    else if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') dimensions[key] = String(value);
    else if (value !== null) issues.push({ path: `data.${key}`, message: 'must be a string, number or boolean to become a dimension' });
  }
  if (issues.length > 0) return { ok: false, issues };
  const event: Record<string, unknown> = { eventId: ce.id, metricName: ce.type, customerId: ce.subject };
  if (ce.time !== undefined) event.timestamp = ce.time;
  if (quantity !== undefined) event.quantity = quantity;
  if (Object.keys(dimensions).length > 0) event.dimensions = dimensions;
  if (ce.source !== undefined) event.metadata = { source: ce.source };
  return { ok: true, event };
}
