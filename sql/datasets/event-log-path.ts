import { TABLES, mvName } from '../names.js';
import { onCluster, qualified, storageTable, type RenderTarget } from '../engines.js';
import { LOG_COLUMNS } from './corrections.js';

/**
 * Which path stored each row of usage_event_log: the Kafka partition it was
 * consumed from, -1 for the direct API writer and corrections (as in
 * usage_events), -2 for rows logged before this migration (path unknown).
 * usage_events cannot answer it: its merges collapse a redelivery into one
 * copy. The reconciliation report (GET /v1/reconciliation) counts deliveries
 * per path from here. The view changes with MODIFY QUERY, so no insert is
 * missed; rows inserted while the column exists but the view is the old one
 * take the -2 of "unknown", which is true.
 */
export function eventLogPathDdl(t: RenderTarget): string[] {
  const tables = t.cluster ? [storageTable(t, TABLES.usageEventLog), TABLES.usageEventLog] : [TABLES.usageEventLog];
  return [
    ...tables.map((table) => `ALTER TABLE ${qualified(t, table)}${onCluster(t)} ADD COLUMN IF NOT EXISTS kafka_partition Int64 DEFAULT -2`),
    `ALTER TABLE ${qualified(t, mvName(TABLES.usageEventLog))}${onCluster(t)} MODIFY QUERY
SELECT ${LOG_COLUMNS}, kafka_partition FROM ${qualified(t, storageTable(t, TABLES.usageEvents))}`,
  ];
}
