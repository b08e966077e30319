import { z } from 'zod';
import { TABLES } from '../names.js';
import { count } from '../count.js';
import { defineQuery } from '../query.js';

/**
 * The reads of the reconciliation report (GET /v1/reconciliation): one
 * tenant, UTC days of event time in [fromMs, toMs) (dead letters: days they
 * arrived), per metric. Each says how it is exact.
 */

const window = z.object({ tenantId: z.string(), fromMs: z.number().int(), toMs: z.number().int() });
const key = { day: z.string(), metricName: z.string() };
const inWindow = (column: string) =>
  `${column} >= fromUnixTimestamp64Milli({fromMs:Int64}, 'UTC') AND ${column} < fromUnixTimestamp64Milli({toMs:Int64}, 'UTC')`;

/**
 * Every row ever stored, from the append-only usage_event_log (merges of
 * usage_events collapse redeliveries, so it cannot count them): version 1 is
 * an original delivery (a correction writes a newer version); kafka_partition
 * says which path stored it (-1 the direct API writer, -2 logged before the
 * path was recorded).
 */
export const receivedPerDay = defineQuery({
  name: 'reconciliation.received',
  params: window,
  row: z.object({ ...key, receivedApi: count, receivedKafka: count, receivedUnknown: count, duplicatesCollapsed: count }),
  sql: (db) => `SELECT toString(toDate(timestamp)) AS day, toString(metric_name) AS metricName,
  countIf(kafka_partition = -1) AS receivedApi,
  countIf(kafka_partition >= 0) AS receivedKafka,
  countIf(kafka_partition = -2) AS receivedUnknown,
  count() - uniqExact(event_id) AS duplicatesCollapsed
FROM ${db}.${TABLES.usageEventLog}
WHERE tenant_id = {tenantId:String} AND ${inWindow('timestamp')} AND version = 1
GROUP BY day, metricName`,
});

/** Corrections (amend, void) written, by the day and metric of the version written. */
export const correctionsPerDay = defineQuery({
  name: 'reconciliation.corrections',
  params: window,
  row: z.object({ ...key, corrections: count }),
  sql: (db) => `SELECT toString(toDate(timestamp)) AS day, toString(metric_name) AS metricName, uniqExact(event_id, version) AS corrections
FROM ${db}.${TABLES.usageEventLog}
WHERE tenant_id = {tenantId:String} AND ${inWindow('timestamp')} AND version > 1
GROUP BY day, metricName`,
});

/** Events as every number counts them: FINAL (one row per identity, its latest version), voids left out. */
export const storedPerDay = defineQuery({
  name: 'reconciliation.stored',
  params: window,
  row: z.object({ ...key, stored: count }),
  sql: (db) => `SELECT toString(toDate(timestamp)) AS day, toString(metric_name) AS metricName, count() AS stored
FROM ${db}.${TABLES.usageEvents} FINAL
WHERE tenant_id = {tenantId:String} AND ${inWindow('timestamp')} AND is_deleted = 0
GROUP BY day, metricName`,
});

/** What the day rollup holds now (exact only once reconciled: that is what the report checks). */
export const rollupPerDay = defineQuery({
  name: 'reconciliation.rollup',
  params: window,
  row: z.object({ ...key, inRollups: count }),
  sql: (db) => `SELECT toString(toDate(window_start)) AS day, toString(metric_name) AS metricName, sum(events) AS inRollups
FROM ${db}.${TABLES.usagePerDay}
WHERE tenant_id = {tenantId:String} AND ${inWindow('window_start')}
GROUP BY day, metricName`,
});

/** Dead letters of the tenant by the day they arrived and the metric they name ('' when unreadable); FINAL: a redelivery is one. */
export const deadLettersPerDay = defineQuery({
  name: 'reconciliation.dead_letters',
  params: window,
  row: z.object({ ...key, deadLettered: count, deadLetteredPending: count }),
  sql: (db) => `SELECT toString(toDate(received_at)) AS day, JSONExtractString(raw_message, 'metricName') AS metricName,
  count() AS deadLettered, countIf(replayed_at IS NULL) AS deadLetteredPending
FROM ${db}.${TABLES.usageDeadLetters} FINAL
WHERE tenant_id = {tenantId:String} AND ${inWindow('received_at')}
GROUP BY day, metricName`,
});

/**
 * Stored events (FINAL, not voided) that lie in a period an export line
 * closed for their customer and a meter of their metric (`covered`), and of
 * those the ones first stored before that export's cutoff or a later one's
 * for the same period (`inExports`: adjustment lines carry the late ones), as
 * the close counts them (the earliest stored copy). Meter filters are not
 * applied: this counts the metric's events in closed periods.
 */
export const exportedPerDay = defineQuery({
  name: 'reconciliation.exported',
  params: window,
  row: z.object({ ...key, covered: count, inExports: count }),
  sql: (db) => `WITH closed AS (
  SELECT l.customer_id AS customer_id, JSONExtractString(m.definition, 'metricName') AS metric_name,
    l.period_start AS period_start, l.period_end AS period_end, e.cutoff AS cutoff
  FROM ${db}.${TABLES.billingExportLines} AS l FINAL
  INNER JOIN (SELECT sequence, cutoff FROM ${db}.${TABLES.billingExports} FINAL WHERE tenant_id = {tenantId:String}) AS e ON e.sequence = l.sequence
  INNER JOIN (SELECT meter_key, definition FROM ${db}.${TABLES.meters} FINAL WHERE tenant_id = {tenantId:String}) AS m ON m.meter_key = l.meter_key
  WHERE l.tenant_id = {tenantId:String} AND l.period_start < fromUnixTimestamp64Milli({toMs:Int64}, 'UTC') AND l.period_end > fromUnixTimestamp64Milli({fromMs:Int64}, 'UTC')
)
SELECT toString(toDate(ev.timestamp)) AS day, toString(ev.metric_name) AS metricName,
  uniqExact(ev.event_id) AS covered, uniqExactIf(ev.event_id, ev.stored_at < closed.cutoff) AS inExports
FROM (
  SELECT f.event_id AS event_id, f.customer_id AS customer_id, f.metric_name AS metric_name, f.timestamp AS timestamp, s.first_stored AS stored_at
  FROM (SELECT event_id, customer_id, toString(metric_name) AS metric_name, timestamp FROM ${db}.${TABLES.usageEvents} FINAL
    WHERE tenant_id = {tenantId:String} AND ${inWindow('timestamp')} AND is_deleted = 0) AS f
  INNER JOIN (SELECT event_id, min(stored_at) AS first_stored FROM ${db}.${TABLES.usageEventLog}
    WHERE tenant_id = {tenantId:String} AND ${inWindow('timestamp')} GROUP BY event_id) AS s ON s.event_id = f.event_id
) AS ev
INNER JOIN closed ON closed.customer_id = ev.customer_id AND closed.metric_name = ev.metric_name
WHERE ev.timestamp >= closed.period_start AND ev.timestamp < closed.period_end
GROUP BY day, metricName`,
});
