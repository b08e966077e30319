import { randomUUID } from 'node:crypto';
import type { Db } from '../sql/query.js';
import type { Config } from '../api/config.js';
import { defaultTenantLimits, rollupRetention } from '../api/config.js';
import { billingSettings, s3Storage } from '../api/runtime-settings.js';
import { createAccess, type Access } from '../access/access.js';
import { TenantExistsError, tenantIdSchema } from '../access/tenants.js';
import type { Scope } from '../access/scopes.js';
import { AuditLog, type Actor } from '../access/audit.js';
import { KeyChangeError, createKey, revokeKey } from '../access/key-changes.js';
import { verifyExports } from '../access/export-chain.js';
import { BillingCloser } from '../jobs/billing/close.js';
import { systemClock } from '../domain/clock.js';
import { auditTenants } from '../sql/queries/audit.js';
import { lastExports, tableRows } from '../sql/queries/status.js';
import { reconcileRollups } from '../jobs/reconcile-rollups.js';
import { readWatermark, writeWatermark } from '../sql/queries/reconcile.js';
import { readFilledFrom } from '../sql/queries/tier-filled.js';

/** A refusal the CLI prints as is (exit code 1). */
export class CliError extends Error {
  override readonly name = 'CliError';
}

/**
 * What the CLI does, on an open engine: the same domain functions the API
 * calls (KeyStore, access/key-changes.ts, BillingCloser, AuditLog), never
 * HTTP. Every change is audit-logged with actor `cli`.
 */
export class Operations {
  private readonly access: Access;
  private readonly audit: AuditLog;
  private readonly requestId = `cli-${randomUUID()}`;

  constructor(
    private readonly db: Db,
    private readonly config: Config,
  ) {
    // No caching: each command is one short process.
    this.access = createAccess(db, { cacheSeconds: 0, defaultLimits: defaultTenantLimits(config) });
    this.audit = new AuditLog(db);
  }

  private as(tenantId: string): Actor {
    return { tenantId, actor: 'cli', requestId: this.requestId };
  }

  private async existing(tenantId: string): Promise<void> {
    if (!(await this.access.tenants.get(tenantId))) throw new CliError(`no tenant "${tenantId}"`);
  }

  tenants() {
    return this.access.tenants.list();
  }

  /** A new tenant and its first admin key (the secret returned once). */
  async createTenant(tenantId: string, name: string) {
    const id = tenantIdSchema.safeParse(tenantId);
    if (!id.success) throw new CliError(`tenant id "${tenantId}" ${id.error.issues[0]!.message}`);
    await this.access.tenants.create(tenantId, name).catch((error: unknown) => {
      throw error instanceof TenantExistsError ? new CliError(`tenant "${tenantId}" exists`) : error;
    });
    await this.audit.record(this.as(tenantId), 'tenant.created', { target: tenantId, after: { tenantId, name } });
    const { record, secret } = await createKey(this.access.keys, this.audit, this.as(tenantId), 'first admin', ['admin']);
    return { tenantId, name, keyId: record.keyId, adminKey: secret };
  }

  async createKey(tenantId: string, name: string, scopes: readonly Scope[]) {
    await this.existing(tenantId);
    const { record, secret } = await createKey(this.access.keys, this.audit, this.as(tenantId), name, scopes);
    return { ...record, key: secret };
  }

  async listKeys(tenantId: string) {
    await this.existing(tenantId);
    return this.access.keys.list(tenantId);
  }

  async revokeKey(tenantId: string, keyId: string) {
    await this.existing(tenantId);
    return revokeKey(this.access.keys, this.audit, this.as(tenantId), keyId).catch((error: unknown) => {
      throw error instanceof KeyChangeError ? new CliError(error.message) : error;
    });
  }

  /** When every admin key of a tenant is lost: a new one, recorded as a recovery. */
  async recoverAdminKey(tenantId: string) {
    await this.existing(tenantId);
    const { record, secret } = await createKey(this.access.keys, this.audit, this.as(tenantId), 'recovered admin', ['admin'], 'admin_key.recovered');
    return { ...record, key: secret };
  }

  /** The period close, now, as the job runs it (all tenants, or one). */
  async close(tenantId?: string) {
    if (tenantId) await this.existing(tenantId);
    const s3 = s3Storage(this.config);
    const closer = new BillingCloser(this.db, { settings: billingSettings(this.config, systemClock), bucket: s3 && { ...s3, timeoutMs: 30_000 } });
    const { exports } = await closer.run(tenantId);
    for (const t of new Set(exports.map((e) => e.tenantId))) {
      const written = exports.filter((e) => e.tenantId === t).map((m) => ({ id: m.id, sequence: m.sequence, checksum: m.checksum }));
      await this.audit.record(this.as(t), 'billing.closed', { after: written });
    }
    return exports;
  }

  /**
   * The rollup reconciliation, now, as the job runs it. `full`: from the beginning, every window
   * with rows compared again in every tier (after an upgrade that adds a check, or to audit the
   * rollups): the watermark goes back to 0 first, so if this run fails the server's next run
   * does the full pass. Until a full pass ends, summaries read every window from raw events.
   */
  async reconcile(full: boolean) {
    if (full) await writeWatermark(this.db, 0);
    return reconcileRollups(this.db, {
      cluster: this.config.CLICKHOUSE_CLUSTER,
      settleMs: this.config.ROLLUP_RECONCILE_SETTLE_SECONDS * 1000,
      retention: rollupRetention(this.config),
    });
  }

  async status() {
    const [tables, tenants, exports, watermarkMs, filling] = await Promise.all([
      tableRows(this.db, { database: this.db.database }),
      this.access.tenants.list(),
      lastExports(this.db, {}),
      readWatermark(this.db),
      readFilledFrom(this.db),
    ]);
    const last = new Map(exports.map(({ tenantId, ...e }) => [tenantId, e]));
    return {
      database: this.db.database,
      tables,
      // Rows stored before reconciledUntil are reconciled; null: the next run is a full pass. Tiers whose raised retention that pass has still to fill (docs/storage.md).
      rollups: {
        reconciledUntil: watermarkMs > 0 ? new Date(watermarkMs).toISOString() : null,
        tiersFilling: filling.map((m) => ({ tier: m.tier, completeFrom: new Date(m.fromMs).toISOString() })),
      },
      tenants: tenants.map((t) => ({ tenantId: t.tenantId, name: t.name, disabled: t.disabled, lastExport: last.get(t.tenantId) ?? null })),
    };
  }

  /** Recompute each tenant's audit chain and export ledger (or one tenant's). */
  async verify(tenantId?: string) {
    const tenants = tenantId
      ? [tenantId]
      : [...new Set([...(await auditTenants(this.db, {})), ...(await this.access.tenants.list())].map((t) => t.tenantId))].sort();
    const results = [];
    for (const t of tenants) results.push({ tenantId: t, audit: await this.audit.verify(t), exports: await verifyExports(this.db, t) });
    return results;
  }
}
