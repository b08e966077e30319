import { z } from 'zod';
import { TABLES } from '../names.js';
import { count } from '../count.js';
import { defineQuery } from '../query.js';

/**
 * Reads behind /metrics: operator-wide totals (no tenant filter by design,
 * no tenant in the answer). Each is bounded by what it scans: a window of
 * stored_at (minmax index), system tables, or the export manifests.
 */

const ms = z.coerce.number();

/** The engine's clock, in ms: the start of the first freshness window. */
export const engineNowMs = defineQuery({
  name: 'metrics.engine_now',
  params: z.object({}),
  row: z.object({ nowMs: ms }),
  sql: () => `SELECT toUnixTimestamp64Milli(now64(3)) AS nowMs`,
});

/**
 * Rows stored in (sinceMs, engine now - 1 s], counted per freshness bucket of
 * stored_at - ingested_at (+ offsetMs: the product clock's offset from the
 * engine's, domain/clock.ts). The second of margin lets inserts in flight
 * commit before their stored_at is passed. Counts every stored row
 * (redeliveries too): freshness is about each delivery.
 */
export const freshnessBuckets = defineQuery({
  name: 'metrics.freshness',
  params: z.object({ sinceMs: z.number().int(), offsetMs: z.number().int(), bounds: z.array(z.number()) }),
  row: z.object({ bucket: ms, rows: count, seconds: z.coerce.number(), untilMs: ms }),
  sql: (db) => `WITH toUnixTimestamp64Milli(now64(3)) - 1000 AS until,
  (toUnixTimestamp64Milli(stored_at) + {offsetMs:Int64} - toUnixTimestamp64Milli(ingested_at)) / 1000 AS d
SELECT arrayFirstIndex(b -> d <= b, {bounds:Array(Float64)}) AS bucket, count() AS rows, sum(d) AS seconds, any(until) AS untilMs
FROM ${db}.${TABLES.usageEvents}
WHERE stored_at > fromUnixTimestamp64Milli({sinceMs:Int64}, 'UTC') AND toUnixTimestamp64Milli(stored_at) <= until
GROUP BY bucket`,
});

/** Active parts of usage_events per partition (month of event time); on a cluster, of this node's shard table. */
export const usageEventsParts = defineQuery({
  name: 'metrics.usage_events.parts',
  params: z.object({ database: z.string(), tables: z.array(z.string()) }),
  row: z.object({ partition: z.string(), parts: count, rows: count, bytes: count }),
  sql: () => `SELECT partition, count() AS parts, sum(rows) AS rows, sum(bytes_on_disk) AS bytes FROM system.parts
WHERE database = {database:String} AND table IN {tables:Array(String)} AND active GROUP BY partition ORDER BY partition`,
});

/** Merges running and mutations not yet done on usage_events: the merge backlog. */
export const usageEventsBacklog = defineQuery({
  name: 'metrics.usage_events.backlog',
  params: z.object({ database: z.string(), tables: z.array(z.string()) }),
  row: z.object({ merges: count, mutations: count }),
  sql: () => `SELECT
  (SELECT count() FROM system.merges WHERE database = {database:String} AND table IN {tables:Array(String)}) AS merges,
  (SELECT count() FROM system.mutations WHERE database = {database:String} AND table IN {tables:Array(String)} AND NOT is_done) AS mutations`,
});

/** Exports no webhook has acknowledged yet, of tenants with an endpoint (`defaultTenant`: the tenant BILLING_WEBHOOK_URL serves, '' when unset). */
export const webhookBacklog = defineQuery({
  name: 'metrics.webhooks.backlog',
  params: z.object({ defaultTenant: z.string() }),
  row: z.object({ pending: count }),
  sql: (db) => `SELECT count() AS pending FROM ${db}.${TABLES.billingExports} FINAL
WHERE (tenant_id, sequence) NOT IN (SELECT tenant_id, sequence FROM ${db}.${TABLES.billingDeliveries})
  AND (tenant_id = {defaultTenant:String} OR tenant_id IN (SELECT tenant_id FROM ${db}.${TABLES.tenantWebhooks} FINAL WHERE deleted = 0))`,
});

/** Exports whose files are not yet in the bucket. */
export const uploadBacklog = defineQuery({
  name: 'metrics.uploads.backlog',
  params: z.object({ bucket: z.string(), keyPrefix: z.string() }),
  row: z.object({ pending: count }),
  sql: (db) => `SELECT count() AS pending FROM ${db}.${TABLES.billingExports} FINAL
WHERE (tenant_id, sequence) NOT IN (SELECT tenant_id, sequence FROM ${db}.${TABLES.billingExportObjects} FINAL
  WHERE bucket = {bucket:String} AND key_prefix = {keyPrefix:String})`,
});
