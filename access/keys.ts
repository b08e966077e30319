import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { Db } from '../sql/query.js';
import { allKeysWithHash, keyByHash, keyHashOf, keysOfTenant, tenantById, writeKey, writeTenant, type ApiKeyRow } from '../sql/queries/tenancy.js';
import { RefreshingCache } from './refresh.js';
import { FreshRead } from './fresh-read.js';
import { SCOPES, normaliseScopes, roleOf, type Scope } from './scopes.js';

/** A tenant's key, resolved: the tenant of every request and what it may do come from here. */
export interface Principal {
  tenantId: string;
  keyId: string;
  scopes: Scope[];
}

export interface ApiKeyRecord {
  tenantId: string;
  keyId: string;
  name: string;
  scopes: Scope[];
  createdAt: string;
  revokedAt: string | null;
}

export const DEFAULT_TENANT = 'default';
/** The key id under which METERHOUSE_API_KEY is recorded, so restarts do not add copies. */
export const ENV_KEY_ID = 'env-admin';

export interface KeyCacheOptions {
  /** How long a resolved key is trusted without asking the engine. */
  hitSeconds: number;
  /** How long an unknown (or revoked) key is refused without asking the engine. */
  missSeconds: number;
  /** At most this many remembered misses; the oldest go first. */
  missEntries: number;
}

export function hashKey(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

export function newSecret(prefix: string): string {
  return `${prefix}_${randomBytes(24).toString('base64url')}`;
}

const KNOWN = new Set<string>(SCOPES);
/** A stored scope this version does not know (written by a newer one) grants nothing here. */
const recordOf = (row: ApiKeyRow): ApiKeyRecord => ({ ...row, scopes: normaliseScopes(row.scopes.filter((s): s is Scope => KNOWN.has(s))) });

/** The role column still written beside the scopes, for an older version reading the row. */
const storedRole = (scopes: readonly Scope[]) => roleOf(scopes) ?? 'scoped';

export const isAdminKey = (k: ApiKeyRecord) => k.revokedAt === null && k.scopes.includes('admin');

/**
 * API keys: issued, listed, revoked and resolved to a tenant and its scopes.
 * Only the SHA-256 of a secret is stored (secrets are 192 random bits, so a
 * fast hash is enough). Resolutions are cached briefly; a revocation clears
 * this process's cache at once and other processes' after API_KEY_CACHE_SECONDS.
 * On the embedded engine a resolution reads the whole key table without bound
 * parameters, so it never waits behind a long parameterized read.
 */
export class KeyStore {
  /** Resolved keys by hash; an unknown or revoked key is not kept here but in `misses`. */
  private readonly cache: RefreshingCache<string, Principal | undefined>;
  /** Unknown keys, so that a caller repeating one costs no engine lookup each time (insertion order = age). */
  private misses = new Map<string, number>();

  constructor(
    private readonly db: Db,
    private readonly options: KeyCacheOptions,
  ) {
    // A revocation in another process still takes effect within API_KEY_CACHE_SECONDS: the background refresh
    // comes before the expiry.
    this.cache = new RefreshingCache({
      load: (hash) => this.resolve(hash),
      idOf: (hash) => hash,
      lifeSeconds: options.hitSeconds,
      keep: (principal) => principal !== undefined,
    });
  }

  /** Embedded engine: the whole key table by hash, read without bound parameters (see FreshRead). */
  private readonly byHash = new FreshRead(async () => new Map((await allKeysWithHash(this.db, {})).map(({ keyHash, ...row }) => [keyHash, row] as const)));

  private async keyRow(hash: string): Promise<ApiKeyRow | undefined> {
    if (this.db.embedded) return (await this.byHash.get()).get(hash);
    return (await keyByHash(this.db, { hash }))[0];
  }

  async authenticate(secret: string): Promise<Principal | undefined> {
    const hash = hashKey(secret);
    const hit = this.cache.hit(hash);
    if (hit) return hit.value;
    const missUntil = this.misses.get(hash);
    if (missUntil !== undefined && missUntil > Date.now()) return undefined;
    return this.cache.get(hash); // concurrent first uses of a key share one lookup
  }

  private async resolve(hash: string): Promise<Principal | undefined> {
    const row = await this.keyRow(hash);
    if (!row || row.revokedAt !== null) {
      this.rememberMiss(hash);
      return undefined;
    }
    this.misses.delete(hash);
    const key = recordOf(row);
    return { tenantId: key.tenantId, keyId: key.keyId, scopes: key.scopes };
  }

  private rememberMiss(hash: string): void {
    if (this.options.missSeconds <= 0) return;
    this.misses.delete(hash);
    while (this.misses.size >= this.options.missEntries) this.misses.delete(this.misses.keys().next().value!);
    this.misses.set(hash, Date.now() + this.options.missSeconds * 1000);
  }

  async create(tenantId: string, name: string, scopes: readonly Scope[]): Promise<{ record: ApiKeyRecord; secret: string }> {
    const secret = newSecret('mh');
    const keyId = `key_${randomUUID().replaceAll('-', '')}`;
    const createdAtMs = Date.now();
    const held = normaliseScopes(scopes);
    const keyHash = hashKey(secret);
    await writeKey(this.db, { tenantId, keyId, keyHash, name, role: storedRole(held), scopes: held, createdAtMs, revokedAtMs: null });
    // A key made here works here at once, even if its hash was looked up (and missed) just before.
    this.misses.delete(keyHash);
    return { secret, record: { tenantId, keyId, name, scopes: held, createdAt: new Date(createdAtMs).toISOString(), revokedAt: null } };
  }

  async list(tenantId: string): Promise<ApiKeyRecord[]> {
    return (await keysOfTenant(this.db, { tenantId }, { tenantId })).map(recordOf);
  }

  /** Revoke a key of this tenant (as listed by `list`); undefined when the tenant has no such key. */
  async revoke(current: ApiKeyRecord): Promise<ApiKeyRecord | undefined> {
    const { tenantId, keyId } = current;
    const [stored] = await keyHashOf(this.db, { tenantId, keyId }, { tenantId });
    if (!stored) return undefined;
    if (current.revokedAt !== null) return current;
    const revokedAtMs = Date.now();
    await writeKey(this.db, {
      tenantId,
      keyId,
      keyHash: stored.keyHash,
      name: current.name,
      role: storedRole(current.scopes),
      scopes: current.scopes,
      createdAtMs: Date.parse(current.createdAt),
      revokedAtMs,
    });
    this.cache.forget(stored.keyHash);
    return { ...current, revokedAt: new Date(revokedAtMs).toISOString() };
  }

  /**
   * First start: tenant `default` and an admin key. With METERHOUSE_API_KEY the
   * given secret becomes the default tenant's admin key the first time it is
   * seen; a revoked one stays revoked (`revokedEnvKey`), whatever restarts
   * follow: to recover, set a new secret. Without it a key is generated when
   * the tenant has no active admin key, and returned once.
   */
  async bootstrap(envKey: string | undefined): Promise<{ createdSecret?: string; revokedEnvKey?: boolean }> {
    if ((await tenantById(this.db, { tenantId: DEFAULT_TENANT })).length === 0) {
      await writeTenant(this.db, DEFAULT_TENANT, 'Default tenant');
    }
    if (envKey !== undefined) {
      const keyHash = hashKey(envKey);
      const [existing] = await keyByHash(this.db, { hash: keyHash });
      if (existing && existing.tenantId !== DEFAULT_TENANT) {
        throw new Error(`METERHOUSE_API_KEY is already a key of another tenant; choose a different secret`);
      }
      if (existing?.revokedAt != null) return { revokedEnvKey: true };
      if (!existing || !isAdminKey(recordOf(existing))) {
        const keyId = existing?.keyId ?? ENV_KEY_ID;
        await writeKey(this.db, {
          tenantId: DEFAULT_TENANT,
          keyId,
          keyHash,
          name: 'METERHOUSE_API_KEY',
          role: 'admin',
          scopes: ['admin'],
          createdAtMs: Date.now(),
          revokedAtMs: null,
        });
      }
      this.misses.delete(keyHash);
      return {};
    }
    const keys = await this.list(DEFAULT_TENANT);
    if (keys.some(isAdminKey)) return {};
    const { secret } = await this.create(DEFAULT_TENANT, 'bootstrap admin', ['admin']);
    return { createdSecret: secret };
  }
}
