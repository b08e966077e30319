import type { Db } from '../sql/query.js';
import { KeyStore, type KeyCacheOptions, type Principal } from './keys.js';
import { IngestRate, ReadSlots, type TenantLimits } from './limits.js';
import { OperatorCredentials } from './operator.js';
import { TenantStore, type Tenant } from './tenants.js';
import type { LinkClaims } from './link-tokens.js';

/** Who is calling: a tenant's key (with its tenant's current state), a signed link (a customer's dashboard), or the operator. */
export type Caller =
  | { kind: 'tenant'; principal: Principal; tenant: Tenant | undefined }
  | { kind: 'link'; link: LinkClaims; principal: Principal; tenant: Tenant | undefined }
  | { kind: 'operator' };

/** The access model of one process: keys, tenants, the operator credential, and the per-tenant limiters. */
export interface Access {
  keys: KeyStore;
  tenants: TenantStore;
  operator: OperatorCredentials;
  ingestRate: IngestRate;
  readSlots: ReadSlots;
}

export function createAccess(db: Db, options: { cacheSeconds: number; keyCache?: KeyCacheOptions; defaultLimits: TenantLimits }): Access {
  return {
    keys: new KeyStore(db, options.keyCache ?? { hitSeconds: options.cacheSeconds, missSeconds: 5, missEntries: 10_000 }),
    tenants: new TenantStore(db, options.defaultLimits, options.cacheSeconds),
    operator: new OperatorCredentials(db, options.cacheSeconds),
    ingestRate: new IngestRate(),
    readSlots: new ReadSlots(),
  };
}

/** Resolve a bearer secret; undefined for an unknown or revoked one. Tenant keys are looked up first: they are nearly every request. */
export async function resolveCaller(access: Access, secret: string): Promise<Caller | undefined> {
  const principal = await access.keys.authenticate(secret);
  if (principal) return { kind: 'tenant', principal, tenant: await access.tenants.get(principal.tenantId) };
  if (await access.operator.authenticate(secret)) return { kind: 'operator' };
  return undefined;
}
