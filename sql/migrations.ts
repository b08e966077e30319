import { z } from 'zod';
import { TABLES, assertIdentifier } from './names.js';
import { onCluster, type RenderTarget } from './engines.js';
import { defineQuery, execute, insertRows, type Db } from './query.js';
import { apiKeysDdl, migrationsDdl, scopedKeysDdl, tenantStateDdl, tenantsDdl } from './datasets/tenancy.js';
import { rawCodecsDdl, usageEventsDdl } from './datasets/usage-events.js';
import { eventIdsDdl } from './datasets/event-ids.js';
import { customerMonthDdl, latestKeyDdl, quantitiesDdl, reconcileStateDdl, rollupsDdl, widenRollupSumsDdl } from './datasets/rollups.js';
import { metersDdl } from './datasets/meters.js';
import { incomingDdl, usageDeadLettersDdl, usageEventsLogPositionDdl } from './datasets/kafka-ingest.js';
import { correctionsDdl } from './datasets/corrections.js';
import { auditLogDdl, chainExportsDdl, tenantWebhooksDdl } from './datasets/audit.js';
import { analystConsoleLinkDdl, analystSqlDdl } from './datasets/analyst.js';
import { alertsDdl } from './datasets/alerts.js';
import { customerCycleMovesDdl, customersDdl, deliveriesDdl, exportObjectsDdl, exportsDdl, widenExportValuesDdl } from './datasets/billing.js';
import { accessLinksDdl } from './datasets/links.js';
import { eventLogPathDdl } from './datasets/event-log-path.js';
import { mergeSelectorDdl } from './datasets/merge-selector.js';

export interface Migration {
  version: number;
  name: string;
  statements(t: RenderTarget): string[];
}

/**
 * Append-only. Every statement is idempotent (IF NOT EXISTS), so a migration
 * interrupted half way simply runs again. Never edit a released entry: add one.
 */
export const MIGRATIONS: readonly Migration[] = [
  { version: 1, name: 'tenants_and_api_keys', statements: (t) => [...tenantsDdl(t), ...apiKeysDdl(t)] },
  { version: 2, name: 'usage_events', statements: usageEventsDdl },
  { version: 3, name: 'usage_rollups', statements: (t) => [...rollupsDdl(t), ...reconcileStateDdl(t)] },
  { version: 4, name: 'meters', statements: metersDdl },
  { version: 5, name: 'kafka_ingest', statements: (t) => [...usageEventsLogPositionDdl(t), ...usageDeadLettersDdl(t), ...incomingDdl(t)] },
  { version: 6, name: 'event_corrections', statements: correctionsDdl },
  { version: 7, name: 'billing_customers', statements: customersDdl },
  { version: 8, name: 'billing_exports', statements: exportsDdl },
  { version: 9, name: 'billing_webhook_deliveries', statements: deliveriesDdl },
  { version: 10, name: 'billing_export_objects', statements: exportObjectsDdl },
  { version: 11, name: 'wide_decimal_sums', statements: (t) => [...widenRollupSumsDdl(t), ...widenExportValuesDdl(t)] },
  { version: 12, name: 'scoped_api_keys', statements: scopedKeysDdl },
  { version: 13, name: 'tenant_state_and_operator_keys', statements: tenantStateDdl },
  { version: 14, name: 'audit_log_export_chain_tenant_webhooks', statements: (t) => [...auditLogDdl(t), ...chainExportsDdl(t), ...tenantWebhooksDdl(t)] },
  { version: 15, name: 'access_links', statements: accessLinksDdl },
  { version: 16, name: 'analyst_sql', statements: analystSqlDdl },
  { version: 17, name: 'usage_alerts', statements: alertsDdl },
  { version: 20, name: 'event_log_ingest_path', statements: eventLogPathDdl },
  { version: 21, name: 'analyst_console_link', statements: analystConsoleLinkDdl },
  { version: 22, name: 'usage_per_day_customer_month', statements: customerMonthDdl },
  { version: 23, name: 'usage_per_day_quantities', statements: quantitiesDdl },
  { version: 24, name: 'raw_event_codecs', statements: rawCodecsDdl },
  { version: 25, name: 'billing_customer_cycle_moves', statements: customerCycleMovesDdl },
  { version: 26, name: 'rollup_latest_key', statements: latestKeyDdl },
  { version: 27, name: 'usage_event_ids', statements: eventIdsDdl },
  { version: 28, name: 'event_tables_merge_selector', statements: mergeSelectorDdl },
];

const appliedVersions = defineQuery({
  name: 'migrations.applied',
  params: z.object({}),
  row: z.object({ version: z.coerce.number().int() }),
  // FINAL: a migration re-run after a crash records its row again.
  sql: (db) => `SELECT version FROM ${db}.${TABLES.migrations} FINAL ORDER BY version`,
});

export interface MigrateOptions {
  cluster?: string | undefined;
  /** Apply migrations up to this version only (an upgrade staged in steps; tests of an upgrade). Default: all. */
  upTo?: number | undefined;
}

function targetOf(db: Db, options: MigrateOptions): RenderTarget {
  return { database: db.database, cluster: options.cluster };
}

export async function migrate(db: Db, options: MigrateOptions = {}): Promise<number[]> {
  const t = targetOf(db, options);
  await execute(db, 'migrations.create_database', `CREATE DATABASE IF NOT EXISTS ${assertIdentifier('database', db.database)}${onCluster(t)}`);
  for (const statement of migrationsDdl(t)) await execute(db, 'migrations.create_table', statement);
  const done = new Set((await appliedVersions(db, {})).map((r) => r.version));
  const applied: number[] = [];
  for (const migration of MIGRATIONS) {
    if (done.has(migration.version) || migration.version > (options.upTo ?? Infinity)) continue;
    for (const statement of migration.statements(t)) {
      await execute(db, `migration.${migration.version}.${migration.name}`, statement);
    }
    await insertRows(db, 'migrations.record', TABLES.migrations, [{ version: migration.version, name: migration.name }]);
    applied.push(migration.version);
  }
  return applied;
}

/** Versions not yet applied; empty when the schema is current. */
export async function pendingMigrations(db: Db): Promise<number[]> {
  const done = new Set((await appliedVersions(db, {})).map((r) => r.version));
  return MIGRATIONS.filter((m) => !done.has(m.version)).map((m) => m.version);
}
