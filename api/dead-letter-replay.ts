import { z } from '@hono/zod-openapi';
import type { AppDeps } from './context.js';
import { normaliseEvent, type EventRow } from '../ingest/normalise.js';
import { parseJsonBody } from '../ingest/json-body.js';
import type { EventIssue } from '../ingest/schema.js';
import { deadLettersAt, markReplayed, type ReplayMark } from '../sql/queries/dead-letters.js';
import { eventTimeBounds } from './config.js';
import { nextVersion } from '../sql/query.js';

export const MAX_REPLAY = 1000;

const deadLetterKey = (topic: string, partition: number, offset: number) => `${topic}:${partition}:${offset}`;

export const replayResult = z
  .object({
    topic: z.string(),
    partition: z.number().int(),
    offset: z.number().int(),
    status: z.enum(['replayed', 'duplicate', 'rejected', 'not_found', 'already_replayed']),
    eventId: z.string().nullable(),
    errors: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
  })
  .openapi('ReplayResult');

type ReplayResult = z.infer<typeof replayResult>;

interface ReplayItem {
  topic: string;
  partition: number;
  offset: number;
  event?: Record<string, unknown> | undefined;
}

/** What to submit for a dead letter: the correction, else the stored message; tenantId may only name the caller. */
function candidateOf(item: ReplayItem, rawMessage: string, tenantId: string): { input: unknown } | { errors: EventIssue[] } {
  let input: unknown = item.event;
  if (input === undefined) {
    // Parsed as the API parses a body: numbers keep their source text.
    const parsed = parseJsonBody(Buffer.from(rawMessage, 'utf8'));
    if (!parsed.ok) return { errors: [{ path: '', message: 'the stored message is not JSON: send a corrected `event`' }] };
    input = parsed.value;
  }
  if (typeof input === 'object' && input !== null && !Array.isArray(input) && 'tenantId' in input) {
    const { tenantId: named, ...event } = input as Record<string, unknown>;
    if (named !== tenantId) return { errors: [{ path: 'tenantId', message: 'must be the tenant of the API key, or left out' }] };
    input = event;
  }
  return { input };
}

/**
 * Re-submit dead letters through the normal ingest path (Kafka or direct),
 * for the caller's tenant only. Items are settled in one write, then marked
 * replayed; a replayed dead letter is not replayed twice. If the write fails
 * (503), nothing is marked and the whole request can be retried.
 */
export async function replayDeadLetters(
  deps: AppDeps,
  who: { tenantId: string; visible: string[]; requestId: string },
  items: readonly ReplayItem[],
): Promise<ReplayResult[]> {
  const tags = { route: 'POST /v1/dead-letters/replay', tenantId: who.tenantId, requestId: who.requestId };
  const stored = await deadLettersAt(
    deps.db,
    { tenantIds: who.visible, topics: items.map((i) => i.topic), partitions: items.map((i) => i.partition), offsets: items.map((i) => i.offset) },
    tags,
  );
  const byKey = new Map(stored.map((r) => [deadLetterKey(r.topic, r.partition, r.offset), r]));
  const ctx = { tenantId: who.tenantId, receivedAtMs: deps.clock.now(), ...eventTimeBounds(deps.config), format: 'usage' as const };

  const seen = new Set<string>();
  const rows: EventRow[] = [];
  const rowOf: number[] = []; // result index of each row
  const results: ReplayResult[] = items.map((item, index) => {
    const key = deadLetterKey(item.topic, item.partition, item.offset);
    const base = { topic: item.topic, partition: item.partition, offset: item.offset, eventId: null };
    const stored = byKey.get(key);
    if (seen.has(key)) return { ...base, status: 'rejected', errors: [{ path: '', message: 'this dead letter is listed twice in the request' }] };
    seen.add(key);
    if (!stored) return { ...base, status: 'not_found' };
    if (stored.replayed_at !== null) return { ...base, status: 'already_replayed' };
    const candidate = candidateOf(item, stored.raw_message, who.tenantId);
    if ('errors' in candidate) return { ...base, status: 'rejected', errors: candidate.errors };
    const v = normaliseEvent(candidate.input, index, ctx);
    if (!v.row) return { ...base, eventId: v.eventId ?? null, status: 'rejected', errors: v.errors };
    rows.push(v.row);
    rowOf.push(index);
    return { ...base, eventId: v.eventId, status: 'replayed' };
  });

  const outcomes = await deps.writer.write(rows);
  const marks: ReplayMark[] = outcomes.flatMap((outcome, i) => {
    const result = results[rowOf[i]!]!;
    if (outcome === 'refused') {
      // Not stored: the dead letter stays, to be replayed with a corrected `event`.
      Object.assign(result, {
        status: 'rejected',
        errors: [{ path: '', message: 'the storage engine cannot store this event as sent: send a corrected `event`' }],
      });
      return [];
    }
    if (outcome === 'duplicate') result.status = 'duplicate';
    return [{ topic: result.topic, partition: result.partition, offset: result.offset, eventId: rows[i]!.event_id }];
  });
  await markReplayed(deps.db, who.visible, marks, nextVersion(), tags);
  return results;
}
