import { randomUUID } from 'node:crypto';
import type { Db } from '../sql/query.js';
import type { Config } from '../api/config.js';
import { KeyStore } from '../api/keys.js';
import { billingSettings, s3Storage } from '../api/runtime.js';
import { AuditLog, type Actor } from '../access/audit.js';
import { KeyChangeError, createKey, revokeKey } from '../access/key-changes.js';
import { verifyExports } from '../access/export-chain.js';
import { BillingCloser } from '../jobs/billing/close.js';
import { systemClock } from '../domain/clock.js';
import { tenantById, writeTenant, type ApiKeyRole } from '../sql/queries/tenancy.js';
import { auditTenants } from '../sql/queries/audit.js';
import { lastExports, tableRows, tenantsOverview } from '../sql/queries/status.js';

/** A refusal the CLI prints as is (exit code 1). */
export class CliError extends Error {
  override readonly name = 'CliError';
}

const TENANT_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

/**
 * What the CLI does, on an open engine: the same domain functions the API
 * calls (KeyStore, access/key-changes.ts, BillingCloser, AuditLog), never
 * HTTP. Every change is audit-logged with actor `cli`.
 */
export class Operations {
  private readonly keys: KeyStore;
  private readonly audit: AuditLog;
  private readonly requestId = `cli-${randomUUID()}`;

  constructor(
    private readonly db: Db,
    private readonly config: Config,
  ) {
    this.keys = new KeyStore(db, 0);
    this.audit = new AuditLog(db);
  }

  private as(tenantId: string): Actor {
    return { tenantId, actor: 'cli', requestId: this.requestId };
  }

  private async existing(tenantId: string): Promise<void> {
    if ((await tenantById(this.db, { tenantId })).length === 0) throw new CliError(`no tenant "${tenantId}"`);
  }

  tenants() {
    return tenantsOverview(this.db, {});
  }

  /** A new tenant and its first admin key (the secret returned once). */
  async createTenant(tenantId: string, name: string) {
    if (!TENANT_ID.test(tenantId)) throw new CliError(`tenant id "${tenantId}" must be 1-64 of A-Z a-z 0-9 _ - (starting with a letter or digit)`);
    if ((await tenantById(this.db, { tenantId })).length > 0) throw new CliError(`tenant "${tenantId}" exists`);
    await writeTenant(this.db, tenantId, name);
    await this.audit.record(this.as(tenantId), 'tenant.created', { target: tenantId, after: { tenantId, name } });
    const { record, secret } = await createKey(this.keys, this.audit, this.as(tenantId), 'first admin', 'admin');
    return { tenantId, name, keyId: record.keyId, adminKey: secret };
  }

  async createKey(tenantId: string, name: string, role: ApiKeyRole) {
    await this.existing(tenantId);
    const { record, secret } = await createKey(this.keys, this.audit, this.as(tenantId), name, role);
    return { ...record, key: secret };
  }

  async listKeys(tenantId: string) {
    await this.existing(tenantId);
    return this.keys.list(tenantId);
  }

  async revokeKey(tenantId: string, keyId: string) {
    await this.existing(tenantId);
    return revokeKey(this.keys, this.audit, this.as(tenantId), keyId).catch((error: unknown) => {
      throw error instanceof KeyChangeError ? new CliError(error.message) : error;
    });
  }

  /** When every admin key of a tenant is lost: a new one, recorded as a recovery. */
  async recoverAdminKey(tenantId: string) {
    await this.existing(tenantId);
    const { record, secret } = await createKey(this.keys, this.audit, this.as(tenantId), 'recovered admin', 'admin', 'admin_key.recovered');
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

  async status() {
    const [tables, tenants, exports] = await Promise.all([tableRows(this.db, { database: this.db.database }), tenantsOverview(this.db, {}), lastExports(this.db, {})]);
    const last = new Map(exports.map(({ tenantId, ...e }) => [tenantId, e]));
    return { database: this.db.database, tables, tenants: tenants.map((t) => ({ ...t, lastExport: last.get(t.tenantId) ?? null })) };
  }

  /** Recompute each tenant's audit chain and export ledger (or one tenant's). */
  async verify(tenantId?: string) {
    const tenants = tenantId ? [tenantId] : [...new Set([...(await auditTenants(this.db, {})), ...(await tenantsOverview(this.db, {}))].map((t) => t.tenantId))].sort();
    const results = [];
    for (const t of tenants) results.push({ tenantId: t, audit: await this.audit.verify(t), exports: await verifyExports(this.db, t) });
    return results;
  }
}
