import { DAY_MS } from './time.js';

/**
 * Raw retention as one rule the product states and keeps (docs/storage.md, "Retention").
 *
 * Raw events (usage_events and the billing log usage_event_log) are deleted
 * RAW_RETENTION_DAYS after their event time. For no two numbers to disagree:
 * - ingest refuses an event older than RAW_RETENTION_DAYS less the longest
 *   billing period (31 days): the whole period such an event is billed in is
 *   then still stored, so its export or adjustment is computed from complete
 *   data, never from a period that retention has already begun to delete;
 * - startup refuses a RAW_RETENTION_DAYS shorter than the longest period plus
 *   the close grace plus a margin, so every period is exported (at end + grace)
 *   with a week to spare before its first event can be deleted, and late events
 *   within the grace are still accepted;
 * - a read whose window starts before now - RAW_RETENTION_DAYS is refused,
 *   naming the earliest instant still answered: never a silent partial number.
 */
/** The longest billing period a customer can have (a 31-day month). */
export const LONGEST_PERIOD_DAYS = 31;
/** Days between a period's export (end + grace) and the earliest deletion of its events. */
export const RETENTION_MARGIN_DAYS = 7;

/** The shortest RAW_RETENTION_DAYS that keeps every period until it is exported. */
export function minimumRawRetentionDays(graceMs: number): number {
  return LONGEST_PERIOD_DAYS + Math.ceil(graceMs / DAY_MS) + RETENTION_MARGIN_DAYS;
}

/** How old an accepted event may be (ms), or undefined when raw events are kept forever. */
export function maxEventAgeMs(rawDays: number | undefined): number | undefined {
  return rawDays === undefined ? undefined : (rawDays - LONGEST_PERIOD_DAYS) * DAY_MS;
}

/** The per-event error for an event older than maxEventAgeMs (the same text on the HTTP and Kafka paths). */
export function tooOldMessage(maxAgeMs: number): string {
  return `is older than ${Math.round(maxAgeMs / DAY_MS)} days: meterhouse accepts events up to RAW_RETENTION_DAYS less the longest billing period (${LONGEST_PERIOD_DAYS} days) old`;
}

/** The earliest instant a read may start at, or undefined when raw events are kept forever. */
export function retainedSinceMs(rawDays: number | undefined, nowMs: number): number | undefined {
  return rawDays === undefined ? undefined : nowMs - rawDays * DAY_MS;
}
