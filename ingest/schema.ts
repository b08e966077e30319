import { z } from 'zod';
import { isWellFormed, NOT_WELL_FORMED } from './text.js';
import { NO_CONTROL_CHARS } from '../sql/control-chars.js';

/** Input limits on one event, in Unicode code points (as zod's .max() counts); each breach is a per-event error, never a truncation. */
export const EVENT_LIMITS = {
  idLength: 256,
  metricNameLength: 128,
  dimensionCount: 50,
  dimensionKeyLength: 128,
  dimensionValueLength: 1024,
  metadataLength: 256,
} as const;

// Text without control characters (they break logs, CSV exports and terminals) that the engine stores exactly.
const text = (max: number) =>
  z.string().max(max, `must be at most ${max} characters`).regex(NO_CONTROL_CHARS, 'must not contain control characters').refine(isWellFormed, NOT_WELL_FORMED);
const printable = (max: number) => text(max).min(1, 'must not be empty');

/** A dimension key JS objects cannot hold as data (assigning it sets the prototype): refused rather than dropped. */
export const RESERVED_DIMENSION_KEY = '__proto__';

export const METRIC_NAME = /^[A-Za-z0-9][A-Za-z0-9_.:/-]*$/;

/**
 * The canonical usage event (ARCHITECTURE.md, "Event contract"). Strict: an
 * unknown field is an error, so a misspelt "quantity" can never silently bill 1.
 */
export const usageEventSchema = z
  .strictObject({
    eventId: printable(EVENT_LIMITS.idLength),
    timestamp: z.union([z.number(), z.string()]).optional(),
    customerId: printable(EVENT_LIMITS.idLength),
    productId: printable(EVENT_LIMITS.idLength).optional(),
    metricName: printable(EVENT_LIMITS.metricNameLength).regex(METRIC_NAME, 'must start with a letter or digit and contain only letters, digits and _ . : / -'),
    quantity: z.union([z.number(), z.string()]).optional(),
    dimensions: z
      .record(printable(EVENT_LIMITS.dimensionKeyLength), text(EVENT_LIMITS.dimensionValueLength))
      .refine((d) => Object.keys(d).length <= EVENT_LIMITS.dimensionCount, `must have at most ${EVENT_LIMITS.dimensionCount} keys`)
      .optional(),
    metadata: z
      .strictObject({
        source: printable(EVENT_LIMITS.metadataLength).optional(),
        version: printable(EVENT_LIMITS.metadataLength).optional(),
        requestId: printable(EVENT_LIMITS.metadataLength).optional(),
      })
      .optional(),
  })
  .meta({ id: 'UsageEvent' });

export type UsageEvent = z.infer<typeof usageEventSchema>;

/** One per-event problem, located by a dotted path inside that event. */
export interface EventIssue {
  path: string;
  message: string;
}

export function issuesOf(error: z.ZodError): EventIssue[] {
  return error.issues.flatMap((issue) => {
    const path = issue.path.map(String);
    // An unknown field is reported at its own path, so the client sees which one.
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((key) => ({ path: [...path, key].join('.'), message: 'is not a field of the event contract' }));
    }
    const missing = issue.code === 'invalid_type' && issue.input === undefined;
    return [{ path: path.join('.'), message: missing ? 'is required' : issue.message }];
  });
}
