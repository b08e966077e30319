import { TABLES } from '../sql/names.js';
import { insertRows, type Db } from '../sql/query.js';

/** An event as a test sent it to the API. */
export interface SentEvent {
  eventId: string;
  customerId: string;
  metricName: string;
  timestamp: number;
  quantity: string;
  dimensions?: Record<string, string> | undefined;
}

/**
 * Write events straight into usage_events again, past the writer's identity lookup, as a Kafka
 * redelivery or a second writer would: the raw table keeps one copy per identity (FINAL), the
 * rollup views count the copy until the reconciler rewrites its windows.
 */
export async function redeliver(db: Db, tenantId: string, events: readonly SentEvent[]): Promise<void> {
  await insertRows(
    db,
    'test.redeliver',
    TABLES.usageEvents,
    events.map((e) => ({
      tenant_id: tenantId,
      event_id: e.eventId,
      customer_id: e.customerId,
      metric_name: e.metricName,
      timestamp: e.timestamp,
      quantity: e.quantity,
      dimensions: e.dimensions ?? {},
      ingested_at: e.timestamp,
    })),
  );
}
