// Every table name lives here; nothing else spells one out.
export const TABLES = {
  migrations: 'schema_migrations',
  tenants: 'tenants',
  apiKeys: 'api_keys',
  operatorKeys: 'operator_keys',
  usageEvents: 'usage_events',
  usagePerMinute: 'usage_per_minute',
  usagePerHour: 'usage_per_hour',
  usagePerDay: 'usage_per_day',
  rollupReconcileState: 'rollup_reconcile_state',
  meters: 'meters',
  usageDeadLetters: 'usage_dead_letters',
  usageEventsIncoming: 'usage_events_incoming',
  /** Kafka chain: each incoming message once checked against the event contract (sql/datasets/kafka-ingest.ts). */
  usageEventsValidated: 'usage_events_validated',
  kafkaUsageEvents: 'kafka_usage_events',
  usageEventLog: 'usage_event_log',
  /** Every stored event's identity in small granules: the ingest writer's lookup reads it (sql/datasets/event-ids.ts). */
  usageEventIds: 'usage_event_ids',
  /** Embedded engine only: a Memory table the ingest writer passes ids through (sql/queries/event-lookup.ts). */
  writerIdLookup: 'writer_id_lookup',
  // reconcile_span and reconcile_rewrite, Memory tables the embedded reconciler passed its values through
  // before its statements bound them (sql/session-parameters.ts), may remain, empty, in older data directories.
  billingCustomers: 'billing_customers',
  billingClaims: 'billing_claims',
  billingExports: 'billing_exports',
  billingExportLines: 'billing_export_lines',
  billingDeliveries: 'billing_webhook_deliveries',
  billingExportObjects: 'billing_export_objects',
  auditLog: 'audit_log',
  tenantWebhooks: 'tenant_webhooks',
  /** Signed links (customer dashboards, console links): listing and revocation (sql/datasets/links.ts). */
  accessLinks: 'access_links',
  /** Analyst SQL: one row per query (GET /v1/sql/history). */
  analystQueries: 'analyst_queries',
  alertRules: 'alert_rules',
  alertEvents: 'alert_events',
  alertMarks: 'alert_marks',
  alertDeliveries: 'alert_deliveries',
} as const;

/** Materialized views are named after the table they write to. */
export const mvName = (table: string) => `${table}_mv`;

export type TableName = (typeof TABLES)[keyof typeof TABLES];

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

/** Identifiers (database, cluster) come from configuration; only this shape is ever interpolated. */
export function assertIdentifier(kind: string, value: string): string {
  if (!IDENTIFIER.test(value)) {
    throw new Error(`${kind} "${value}" is not a valid identifier (letters, digits, underscore; must not start with a digit)`);
  }
  return value;
}
