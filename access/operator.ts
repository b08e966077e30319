import type { Db } from '../sql/query.js';
import { activeOperatorKeys, operatorKeyByHash, writeOperatorKey } from '../sql/queries/tenancy.js';
import { hashKey, newSecret } from './keys.js';

/** The key id under which METERHOUSE_OPERATOR_KEY is recorded. */
export const ENV_OPERATOR_KEY_ID = 'env-operator';

/**
 * The operator credential: tenants and their limits (/v1/operator/...), and
 * nothing of any tenant's data. Stored as its SHA-256 only; resolutions are
 * cached like API keys.
 */
export class OperatorCredentials {
  private cache = new Map<string, { valid: boolean; expiresAt: number }>();

  constructor(
    private readonly db: Db,
    private readonly cacheSeconds: number,
  ) {}

  async authenticate(secret: string): Promise<boolean> {
    const hash = hashKey(secret);
    const hit = this.cache.get(hash);
    if (hit && hit.expiresAt > Date.now()) return hit.valid;
    const [row] = await operatorKeyByHash(this.db, { hash });
    const valid = row !== undefined && row.revokedAt === null;
    // Only hits are cached: a miss is most often an API key, looked up next.
    if (valid && this.cacheSeconds > 0) {
      if (this.cache.size >= 1000) this.cache.clear();
      this.cache.set(hash, { valid, expiresAt: Date.now() + this.cacheSeconds * 1000 });
    }
    return valid;
  }

  /**
   * First start: with METERHOUSE_OPERATOR_KEY that secret is (and stays) an
   * operator key; otherwise one is generated when none is active, and returned
   * once (never stored in clear, never logged).
   */
  async bootstrap(envKey: string | undefined): Promise<{ createdSecret?: string }> {
    if (envKey !== undefined) {
      const keyHash = hashKey(envKey);
      const [existing] = await operatorKeyByHash(this.db, { hash: keyHash });
      if (!existing || existing.revokedAt !== null) {
        await writeOperatorKey(this.db, {
          keyId: existing?.keyId ?? ENV_OPERATOR_KEY_ID,
          keyHash,
          name: 'METERHOUSE_OPERATOR_KEY',
          createdAtMs: Date.now(),
          revokedAtMs: null,
        });
      }
      return {};
    }
    if ((await activeOperatorKeys(this.db, {})).length > 0) return {};
    const secret = newSecret('mho');
    await writeOperatorKey(this.db, {
      keyId: 'bootstrap-operator',
      keyHash: hashKey(secret),
      name: 'bootstrap operator',
      createdAtMs: Date.now(),
      revokedAtMs: null,
    });
    return { createdSecret: secret };
  }
}
