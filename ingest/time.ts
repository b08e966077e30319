import { z } from 'zod';

// RFC 3339 date-time: a date, a time, and an explicit offset (Z or ±hh:mm).
const rfc3339 = z.iso.datetime({ offset: true });

/** The earliest and latest instants DateTime64(3) stores (its documented range). */
export const MIN_EPOCH_MS = Date.UTC(1970, 0, 1);
export const MAX_EPOCH_MS = Date.UTC(2262, 0, 1);

export type TimeResult = { ok: true; epochMs: number } | { ok: false; message: string };

/** An instant given as epoch milliseconds (number or digit string) or RFC 3339 text. */
export function parseInstant(input: number | string): TimeResult {
  let epochMs: number;
  if (typeof input === 'number' || /^\d+$/.test(input)) {
    epochMs = Number(input);
    if (!Number.isSafeInteger(epochMs)) return { ok: false, message: 'must be an integer number of epoch milliseconds' };
  } else if (rfc3339.safeParse(input).success) {
    epochMs = Date.parse(input);
  } else {
    return { ok: false, message: 'must be epoch milliseconds or an RFC 3339 date-time with offset, e.g. 2026-01-31T12:00:00Z' };
  }
  if (Number.isNaN(epochMs) || epochMs < MIN_EPOCH_MS || epochMs >= MAX_EPOCH_MS) {
    return { ok: false, message: 'is out of range (1970-01-01 to 2261-12-31)' };
  }
  return { ok: true, epochMs };
}
