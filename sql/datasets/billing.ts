import { TABLES } from '../names.js';
import { createTable, onCluster, qualified, type RenderTarget } from '../engines.js';
import { SUM_TYPE } from '../decimals.js';

/**
 * Billing: customers, the close-run claims, exports (manifest = outbox) and
 * their lines, and webhook acknowledgements. All small per tenant and keyed
 * tenant first; replicated whole on a cluster (no sharding).
 *
 * How a close run stays exact under crashes and concurrency (jobs/billing/close.ts):
 * - billing_claims: a run claims (tenant, sequence) with its cutoff by an INSERT
 *   carrying insert_deduplication_token "<tenant>/<sequence>". The engine drops
 *   every later insert with the same token (MergeTree's deduplication log on a
 *   single node, Keeper block ids when Replicated), so exactly one claim row per
 *   sequence exists: the first committed wins and every other run reads it back
 *   and adopts its cutoff. The earliest row is taken if the token has fallen
 *   out of the window (10,000 inserts), which needs a run that stale.
 * - billing_export_lines: ReplacingMergeTree keyed by the line's identity within
 *   its export, so a line written again (a re-run completing a crashed run, or
 *   two runs completing one claim) replaces itself instead of adding up.
 * - billing_exports: one row per sequence, written last: an export exists (and
 *   is announced) only once its lines are all written. A claim without an
 *   export row is a run that has not finished; the next run completes it with
 *   the claim's cutoff before doing anything else.
 * - billing_webhook_deliveries: acknowledged deliveries; an export without one
 *   is still in the outbox.
 * - billing_export_objects: exports whose files and manifest are in the S3
 *   bucket (jobs/billing/objects.ts). Written after the last PUT; an export
 *   without a row is uploaded by the next close run. No TTL, like every table here.
 */
export function customersDdl(t: RenderTarget): string[] {
  return createTable(t, {
    table: TABLES.billingCustomers,
    columns: `    tenant_id String,
    customer_id String,
    name String,
    timezone String,
    cycle_interval LowCardinality(String),
    anchor_day UInt8,
    created_at DateTime64(3, 'UTC'),
    updated_at DateTime64(3, 'UTC'),
    version UInt64`,
    engine: 'ReplacingMergeTree',
    engineArgs: ['version'],
    dist: { kind: 'everywhere' },
    tail: 'ORDER BY (tenant_id, customer_id)',
  });
}

export function exportsDdl(t: RenderTarget): string[] {
  return [
    ...createTable(t, {
      table: TABLES.billingClaims,
      columns: `    tenant_id String,
    sequence UInt64,
    run_id String,
    cutoff DateTime64(3, 'UTC'),
    claimed_at DateTime64(3, 'UTC') DEFAULT now64(3)`,
      engine: 'MergeTree',
      dist: { kind: 'everywhere' },
      tail: 'ORDER BY (tenant_id, sequence, claimed_at)\nSETTINGS non_replicated_deduplication_window = 10000',
    }),
    ...createTable(t, {
      table: TABLES.billingExportLines,
      columns: `    tenant_id String,
    sequence UInt64,
    customer_id String,
    meter_key String,
    period_start DateTime64(3, 'UTC'),
    period_end DateTime64(3, 'UTC'),
    kind LowCardinality(String),
    value Decimal(38, 9),
    events Int64`,
      engine: 'ReplacingMergeTree',
      dist: { kind: 'everywhere' },
      tail: 'ORDER BY (tenant_id, sequence, customer_id, meter_key, period_start, kind)',
    }),
    ...createTable(t, {
      table: TABLES.billingExports,
      columns: `    tenant_id String,
    sequence UInt64,
    export_id String,
    created_at DateTime64(3, 'UTC'),
    cutoff DateTime64(3, 'UTC'),
    line_count UInt64,
    checksum String`,
      engine: 'ReplacingMergeTree',
      dist: { kind: 'everywhere' },
      tail: 'ORDER BY (tenant_id, sequence)',
    }),
  ];
}

/**
 * A line's value is a sum (or a difference of sums) of quantities: Decimal(76, 9)
 * like every sum (sql/decimals.ts). Released as Decimal(38, 9) in migration 8;
 * this mutation converts existing lines, which keep their values. Idempotent.
 * Not sharded, so no Distributed table to alter.
 */
export function widenExportValuesDdl(t: RenderTarget): string[] {
  return [`ALTER TABLE ${qualified(t, TABLES.billingExportLines)}${onCluster(t)} MODIFY COLUMN value ${SUM_TYPE}`];
}

/**
 * cycle_moved_at: when the record's time zone or billing cycle last changed
 * from what the customer was billed in (epoch: never; the API's clock, which
 * is the engine's in embedded mode). The change is refused once the customer
 * has exports, but periods of the new cycle can have ended already: a close run
 * reads the days of every customer moved since its previous export's cutoff
 * (less an hour, for the skew of two machines' clocks) as changed, so those
 * periods are billed in the next export (jobs/billing/lines.ts).
 */
export function customerCycleMovesDdl(t: RenderTarget): string[] {
  return [`ALTER TABLE ${qualified(t, TABLES.billingCustomers)}${onCluster(t)} ADD COLUMN IF NOT EXISTS cycle_moved_at DateTime64(3, 'UTC') DEFAULT 0`];
}

export function deliveriesDdl(t: RenderTarget): string[] {
  return createTable(t, {
    table: TABLES.billingDeliveries,
    columns: `    tenant_id String,
    sequence UInt64,
    attempts UInt32,
    delivered_at DateTime64(3, 'UTC')`,
    engine: 'ReplacingMergeTree',
    dist: { kind: 'everywhere' },
    tail: 'ORDER BY (tenant_id, sequence)',
  });
}

export function exportObjectsDdl(t: RenderTarget): string[] {
  return createTable(t, {
    table: TABLES.billingExportObjects,
    columns: `    tenant_id String,
    sequence UInt64,
    bucket String,
    key_prefix String,
    stored_at DateTime64(3, 'UTC') DEFAULT now64(3)`,
    engine: 'ReplacingMergeTree',
    dist: { kind: 'everywhere' },
    tail: 'ORDER BY (tenant_id, sequence)',
  });
}
