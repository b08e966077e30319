import { TABLES } from '../names.js';
import { createTable, onCluster, qualified, type RenderTarget } from '../engines.js';

/**
 * Usage alerts (alerts/): rules, the crossings they fired (the outbox), the
 * marks that re-arm a threshold or prime a falling one, and acknowledged
 * deliveries. Small per tenant, keyed tenant first, replicated whole.
 *
 * How a crossing fires once (alerts/evaluate.ts):
 * - alert_events: one row per crossing, id = hash of (tenant, rule, customer,
 *   period start, threshold, arm). Inserted with insert_deduplication_token =
 *   that id, so when two evaluators (instances, or a restart re-evaluating)
 *   insert the same crossing, the engine keeps the first committed row and
 *   drops the rest (MergeTree's deduplication log; Keeper block ids when
 *   Replicated). Reads take the earliest row per id in case the token has left
 *   the 10,000-insert window, so an id is one crossing whatever happens.
 * - alert_marks: the same claim for state changes ('primed': a falling
 *   threshold was reached; 'rearmed': a fired threshold was left again and the
 *   rule re-arms), keyed the same way with kind.
 * - alert_deliveries: acknowledged webhook deliveries; an event without one is
 *   still in the outbox.
 * - billing_customers.allowances: meterKey -> allowance (decimal string), the
 *   base of percentage thresholds.
 */
export function alertsDdl(t: RenderTarget): string[] {
  return [
    ...createTable(t, {
      table: TABLES.alertRules,
      columns: `    tenant_id String,
    rule_id String,
    meter_key String,
    customer_id String,
    thresholds Array(String),
    unit LowCardinality(String),
    every String,
    alert_window LowCardinality(String),
    direction LowCardinality(String),
    rearm UInt8,
    created_at DateTime64(3, 'UTC'),
    updated_at DateTime64(3, 'UTC'),
    deleted UInt8,
    version UInt64`,
      engine: 'ReplacingMergeTree',
      engineArgs: ['version'],
      dist: { kind: 'everywhere' },
      tail: 'ORDER BY (tenant_id, rule_id)',
    }),
    ...createTable(t, {
      table: TABLES.alertEvents,
      columns: `    tenant_id String,
    event_id String,
    rule_id String,
    customer_id String,
    meter_key String,
    threshold String,
    threshold_value String,
    direction LowCardinality(String),
    arm UInt32,
    value String,
    period_start DateTime64(3, 'UTC'),
    crossed_at DateTime64(3, 'UTC')`,
      engine: 'MergeTree',
      dist: { kind: 'everywhere' },
      tail: 'ORDER BY (tenant_id, rule_id, customer_id, period_start, event_id)\nSETTINGS non_replicated_deduplication_window = 10000',
    }),
    ...createTable(t, {
      table: TABLES.alertMarks,
      columns: `    tenant_id String,
    rule_id String,
    customer_id String,
    period_start DateTime64(3, 'UTC'),
    threshold String,
    arm UInt32,
    kind LowCardinality(String),
    marked_at DateTime64(3, 'UTC') DEFAULT now64(3)`,
      engine: 'MergeTree',
      dist: { kind: 'everywhere' },
      tail: 'ORDER BY (tenant_id, rule_id, customer_id, period_start, threshold, arm)\nSETTINGS non_replicated_deduplication_window = 10000',
    }),
    ...createTable(t, {
      table: TABLES.alertDeliveries,
      columns: `    tenant_id String,
    event_id String,
    attempts UInt32,
    delivered_at DateTime64(3, 'UTC')`,
      engine: 'ReplacingMergeTree',
      dist: { kind: 'everywhere' },
      tail: 'ORDER BY (tenant_id, event_id)',
    }),
    `ALTER TABLE ${qualified(t, TABLES.billingCustomers)}${onCluster(t)} ADD COLUMN IF NOT EXISTS allowances Map(String, String) AFTER anchor_day`,
  ];
}
