import { z } from 'zod';
import { TABLES } from '../names.js';
import { defineQuery, insertRows, nextVersion, type Db, type QueryTags } from '../query.js';
import { storedEventRow } from './events.js';

const stored = storedEventRow.extend({ version: z.string(), isDeleted: z.coerce.number(), changedBy: z.string() });
export type StoredVersion = z.infer<typeof stored>;

const columns = `event_id AS eventId, customer_id AS customerId, product_id AS productId, metric_name AS metricName, timestamp,
  toString(quantity) AS quantity, dimensions, source, source_version AS sourceVersion, request_id AS requestId,
  ingested_at AS ingestedAt, stored_at AS storedAt, toString(version) AS version, is_deleted AS isDeleted, changed_by AS changedBy`;

/** The event's current version, voided or not. FINAL: the highest version of the identity. */
export const currentVersion = defineQuery({
  name: 'events.current_version',
  params: z.object({ tenantId: z.string(), eventId: z.string() }),
  row: stored,
  sql: (db) => `SELECT ${columns} FROM ${db}.${TABLES.usageEvents} FINAL WHERE tenant_id = {tenantId:String} AND event_id = {eventId:String}`,
});

/**
 * Every version of an event, oldest first, from the append-only log (merges
 * of usage_events keep only the latest). Redeliveries of one version are one
 * entry: its first stored copy.
 */
export const eventHistory = defineQuery({
  name: 'events.history',
  params: z.object({ tenantId: z.string(), eventId: z.string() }),
  row: stored,
  sql: (db) => `SELECT ${columns} FROM ${db}.${TABLES.usageEventLog}
WHERE tenant_id = {tenantId:String} AND event_id = {eventId:String}
ORDER BY version, stored_at LIMIT 1 BY version`,
});

/**
 * Write a new version of an event into usage_events (the log's MV keeps a
 * copy). Only quantity, dimensions and deletion change: moving an event in
 * time or to another customer is a void plus a new event, so the event's
 * partition, rollup keys and billing period never move.
 */
export async function writeVersion(
  db: Db,
  tenantId: string,
  current: StoredVersion,
  change: { quantity: string; dimensions: Record<string, string>; isDeleted: boolean; changedBy: string },
  tags: QueryTags = {},
): Promise<void> {
  await insertRows(
    db,
    'events.correct',
    TABLES.usageEvents,
    [
      {
        tenant_id: tenantId,
        event_id: current.eventId,
        customer_id: current.customerId,
        product_id: current.productId,
        metric_name: current.metricName,
        timestamp: Date.parse(current.timestamp),
        quantity: change.quantity,
        dimensions: change.dimensions,
        source: current.source,
        source_version: current.sourceVersion,
        request_id: current.requestId,
        ingested_at: Date.parse(current.ingestedAt),
        version: nextVersion(),
        is_deleted: change.isDeleted ? 1 : 0,
        changed_by: change.changedBy,
      },
    ],
    tags,
  );
}
