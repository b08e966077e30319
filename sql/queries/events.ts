import { z } from 'zod';
import { TABLES } from '../names.js';
import { defineQuery } from '../query.js';

const optionalText = z.string().nullable().default(null);
const optionalMs = z.number().int().nullable().default(null);

/** Which of these event ids the tenant has in `table`. Existence only: no FINAL needed, any stored copy of an identity answers "yes". */
const eventIdsIn = (name: string, table: string) =>
  defineQuery({
    name,
    params: z.object({ tenantId: z.string(), ids: z.array(z.string()) }),
    row: z.object({ event_id: z.string() }),
    sql: (db) => `SELECT DISTINCT event_id FROM ${db}.${table}
WHERE tenant_id = {tenantId:String} AND event_id IN {ids:Array(String)}`,
  });

/** Which of these event ids the tenant already has in usage_events. */
export const existingEventIds = eventIdsIn('events.existing_ids', TABLES.usageEvents);

/**
 * The same question answered from usage_event_ids, the identities in small granules (sql/datasets/event-ids.ts):
 * the ingest writer's lookup on a server. An identity is written there only after usage_events has the row.
 */
export const indexedEventIds = eventIdsIn('events.indexed_ids', TABLES.usageEventIds);

export const storedEventRow = z.object({
  eventId: z.string(),
  customerId: z.string(),
  productId: z.string(),
  metricName: z.string(),
  timestamp: z.string(),
  quantity: z.string(),
  dimensions: z.record(z.string(), z.string()),
  source: z.string(),
  sourceVersion: z.string(),
  requestId: z.string(),
  ingestedAt: z.string(),
  storedAt: z.string(),
});

/**
 * Stored events in (timestamp, eventId) order, keyset-paginated after a cursor.
 * Exact by FINAL: one row per identity even before background merges, in its
 * latest version; voided events are left out (is_deleted is filtered after FINAL).
 */
export const listEvents = defineQuery({
  name: 'events.list',
  params: z.object({
    tenantId: z.string(),
    customerId: optionalText,
    metricName: optionalText,
    fromMs: optionalMs,
    toMs: optionalMs,
    afterMs: optionalMs,
    afterId: z.string().default(''),
    limit: z.number().int().min(1),
  }),
  row: storedEventRow,
  sql: (db) => `SELECT event_id AS eventId, customer_id AS customerId, product_id AS productId, metric_name AS metricName,
  timestamp, toString(quantity) AS quantity, dimensions, source, source_version AS sourceVersion,
  request_id AS requestId, ingested_at AS ingestedAt, stored_at AS storedAt
FROM ${db}.${TABLES.usageEvents} FINAL
WHERE tenant_id = {tenantId:String} AND is_deleted = 0
  AND ({customerId:Nullable(String)} IS NULL OR customer_id = {customerId:Nullable(String)})
  AND ({metricName:Nullable(String)} IS NULL OR metric_name = {metricName:Nullable(String)})
  AND ({fromMs:Nullable(Int64)} IS NULL OR timestamp >= fromUnixTimestamp64Milli({fromMs:Nullable(Int64)}, 'UTC'))
  AND ({toMs:Nullable(Int64)} IS NULL OR timestamp < fromUnixTimestamp64Milli({toMs:Nullable(Int64)}, 'UTC'))
  AND ({afterMs:Nullable(Int64)} IS NULL
       OR (timestamp, event_id) > (fromUnixTimestamp64Milli({afterMs:Nullable(Int64)}, 'UTC'), {afterId:String}))
ORDER BY timestamp, event_id
LIMIT {limit:UInt32}`,
});
