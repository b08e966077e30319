import { z } from 'zod';
import type { Db } from '../sql/query.js';
import { NO_CONTROL_CHARS } from '../sql/control-chars.js';
import { allTenants, tenantById, writeTenantState, NO_OVERRIDES, type LimitOverrides, type TenantRow } from '../sql/queries/tenancy.js';
import { RefreshingCache } from './refresh.js';
import { FreshRead } from './fresh-read.js';
import type { TenantLimits } from './limits.js';

/**
 * A tenant id names the tenant in every table and in export object keys (S3
 * paths): lower-case letters, digits, `_` and `-`, starting with a letter or
 * digit, at most 63 characters.
 */
export const TENANT_ID = /^[a-z0-9][a-z0-9_-]{0,62}$/;
/** One map key for something of a tenant (a meter, a customer, a link): a tenant id never holds '/', so the first '/' ends it. */
export const tenantScopedId = (tenantId: string, id: string) => `${tenantId}/${id}`;
export const tenantIdSchema = z.string().regex(TENANT_ID, 'must be 1-63 lower-case letters, digits, _ or -, starting with a letter or digit');
export const tenantNameSchema = z.string().min(1).max(200).regex(NO_CONTROL_CHARS, 'must not contain control characters');

export interface Tenant extends TenantRow {
  /** The limits in force: the overrides where set, the configured defaults elsewhere. */
  effectiveLimits: TenantLimits;
}

export interface TenantChange {
  name?: string | undefined;
  disabled?: boolean | undefined;
  /** A number overrides the default; null goes back to it; absent keeps what is set. */
  limits?: Partial<LimitOverrides> | undefined;
}

export class TenantExistsError extends Error {
  override readonly name = 'TenantExistsError';
}

/**
 * Tenants: created, renamed, disabled and given limits by the operator. A
 * tenant's state is cached like key resolutions (API_KEY_CACHE_SECONDS): a
 * change made in this process holds here at once, in other processes within
 * the cache period.
 */
export class TenantStore {
  private readonly cache: RefreshingCache<string, Tenant | undefined>;

  constructor(
    private readonly db: Db,
    readonly defaults: TenantLimits,
    cacheSeconds: number,
  ) {
    this.cache = new RefreshingCache({ load: (tenantId) => this.read(tenantId), idOf: (tenantId) => tenantId, lifeSeconds: cacheSeconds });
  }

  /** Embedded engine: every tenant, read without bound parameters, so a lookup never waits behind a long parameterized read (see FreshRead). */
  private readonly byId = new FreshRead(async () => new Map((await allTenants(this.db, {})).map((row) => [row.tenantId, row] as const)));

  private withLimits(row: TenantRow): Tenant {
    const effectiveLimits = { ...this.defaults };
    for (const [name, value] of Object.entries(row.limits) as [keyof TenantLimits, number | null][]) if (value !== null) effectiveLimits[name] = value;
    return { ...row, effectiveLimits };
  }

  async get(tenantId: string): Promise<Tenant | undefined> {
    return this.cache.get(tenantId);
  }

  private async read(tenantId: string): Promise<Tenant | undefined> {
    const row = this.db.embedded ? (await this.byId.get()).get(tenantId) : (await tenantById(this.db, { tenantId }, { tenantId }))[0];
    return row && this.withLimits(row);
  }

  /** The limits in force for a tenant (the defaults for one not known). */
  async limitsFor(tenantId: string): Promise<TenantLimits> {
    return (await this.get(tenantId))?.effectiveLimits ?? { ...this.defaults };
  }

  async list(): Promise<Tenant[]> {
    return (await allTenants(this.db, {})).map((row) => this.withLimits(row));
  }

  async create(tenantId: string, name: string): Promise<Tenant> {
    if (await this.cache.load(tenantId)) throw new TenantExistsError(`tenant "${tenantId}" exists`);
    const state = { tenantId, name, createdAtMs: Date.now(), disabled: false, limits: { ...NO_OVERRIDES } };
    await writeTenantState(this.db, state);
    const tenant = this.withLimits({ tenantId, name, createdAt: new Date(state.createdAtMs).toISOString(), disabled: false, limits: state.limits });
    this.cache.set(tenantId, tenant);
    return tenant;
  }

  /** Apply a change; undefined when there is no such tenant. */
  async update(tenantId: string, change: TenantChange): Promise<Tenant | undefined> {
    const current = await this.cache.load(tenantId);
    if (!current) return undefined;
    const limits = { ...current.limits };
    for (const [name, value] of Object.entries(change.limits ?? {}) as [keyof LimitOverrides, number | null | undefined][])
      if (value !== undefined) limits[name] = value;
    const next = { ...current, name: change.name ?? current.name, disabled: change.disabled ?? current.disabled, limits };
    await writeTenantState(this.db, { tenantId, name: next.name, createdAtMs: Date.parse(current.createdAt), disabled: next.disabled, limits });
    const tenant = this.withLimits(next);
    this.cache.set(tenantId, tenant);
    return tenant;
  }
}
