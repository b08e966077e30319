import { z } from 'zod';
import { TABLES } from '../names.js';
import { count } from '../count.js';
import { defineQuery, execute, type Db, type QueryTags } from '../query.js';

/** Totals for /metrics. Exact by FINAL: a redelivered message is one dead letter. */
export const deadLetterCounts = defineQuery({
  name: 'dead_letters.counts',
  params: z.object({}),
  row: z.object({ pending: count, replayed: count }),
  sql: (db) => `SELECT countIf(replayed_at IS NULL) AS pending, countIf(replayed_at IS NOT NULL) AS replayed FROM ${db}.${TABLES.usageDeadLetters} FINAL`,
});

export const deadLetterRow = z.object({
  topic: z.string(),
  partition: z.coerce.number().int(),
  offset: z.coerce.number().int(),
  rawMessage: z.string(),
  error: z.string(),
  receivedAt: z.string(),
  replayedAt: z.string().nullable(),
  replayedEventId: z.string(),
});

/**
 * One page of a tenant's dead letters in log order (topic, partition, offset),
 * after a keyset cursor. Dead letters nobody can attribute (not JSON, no or an
 * unknown tenantId) belong to the operator: they are listed for the default
 * tenant's admins. Exact by FINAL (redeliveries collapse; the latest replay mark wins).
 */
export const listDeadLetters = defineQuery({
  name: 'dead_letters.list',
  params: z.object({
    tenantIds: z.array(z.string()),
    afterTopic: z.string(),
    afterPartition: z.number().int(),
    afterOffset: z.number().int(),
    pendingOnly: z.boolean(),
    limit: z.number().int().min(1).max(1001),
  }),
  row: deadLetterRow,
  sql: (db) => `SELECT topic, partition, offset, raw_message AS rawMessage, error, received_at AS receivedAt,
    replayed_at AS replayedAt, replayed_event_id AS replayedEventId
FROM ${db}.${TABLES.usageDeadLetters} FINAL
WHERE tenant_id IN {tenantIds:Array(String)}
  AND (topic, partition, offset) > ({afterTopic:String}, {afterPartition:Int64}, {afterOffset:Int64})
  AND (NOT {pendingOnly:Bool} OR replayed_at IS NULL)
ORDER BY topic, partition, offset
LIMIT {limit:UInt32}`,
});

// Keys travel as three parallel arrays (the client binds no arrays of tuples).
const AT_KEYS = `(topic, partition, offset) IN arrayZip({topics:Array(String)}, {partitions:Array(Int64)}, {offsets:Array(Int64)})`;

/** The stored rows of the given dead letters (for a replay), tenant-scoped like the list. */
export const deadLettersAt = defineQuery({
  name: 'dead_letters.at',
  params: z.object({ tenantIds: z.array(z.string()), topics: z.array(z.string()), partitions: z.array(z.number().int()), offsets: z.array(z.number().int()) }),
  row: z.object({
    tenant_id: z.string(),
    topic: z.string(),
    partition: z.coerce.number().int(),
    offset: z.coerce.number().int(),
    raw_message: z.string(),
    error: z.string(),
    received_at: z.string(),
    replayed_at: z.string().nullable(),
  }),
  sql: (db) => `SELECT tenant_id, topic, partition, offset, raw_message, error, received_at, replayed_at
FROM ${db}.${TABLES.usageDeadLetters} FINAL
WHERE tenant_id IN {tenantIds:Array(String)} AND ${AT_KEYS}`,
});

export interface ReplayMark {
  topic: string;
  partition: number;
  offset: number;
  eventId: string;
}

/**
 * Mark dead letters replayed: a newer version of each row (FINAL then reads
 * the mark), naming the event it was replayed as.
 */
export async function markReplayed(db: Db, tenantIds: string[], marks: readonly ReplayMark[], version: number, tags: QueryTags): Promise<void> {
  if (marks.length === 0) return;
  await execute(
    db,
    'dead_letters.mark_replayed',
    `INSERT INTO ${db.database}.${TABLES.usageDeadLetters}
  (tenant_id, topic, partition, offset, raw_message, error, received_at, dead_lettered_at, replayed_at, replayed_event_id, version)
SELECT tenant_id, topic, partition, offset, raw_message, error, received_at, dead_lettered_at, now64(3),
  {eventIds:Array(String)}[indexOf(arrayZip({topics:Array(String)}, {partitions:Array(Int64)}, {offsets:Array(Int64)}), (topic, partition, offset))],
  {version:UInt64}
FROM ${db.database}.${TABLES.usageDeadLetters} FINAL
WHERE tenant_id IN {tenantIds:Array(String)} AND ${AT_KEYS}`,
    {
      tenantIds,
      topics: marks.map((m) => m.topic),
      partitions: marks.map((m) => m.partition),
      offsets: marks.map((m) => m.offset),
      eventIds: marks.map((m) => m.eventId),
      version,
    },
    tags,
  );
}
