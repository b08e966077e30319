import { isAdminKey, type ApiKeyRecord, type KeyStore } from './keys.js';
import type { Scope } from './scopes.js';
import type { Actor, AuditLog } from './audit.js';

/** Why a key change was refused; the API maps it to 404/409, the CLI prints it. */
export class KeyChangeError extends Error {
  override readonly name = 'KeyChangeError';
  constructor(
    readonly reason: 'not_found' | 'last_admin_key',
    message: string,
  ) {
    super(message);
  }
}

/** A key's audit record: its id, name and scopes, never its secret or hash. */
const recordOf = (k: ApiKeyRecord) => ({ keyId: k.keyId, name: k.name, scopes: k.scopes, createdAt: k.createdAt, revokedAt: k.revokedAt });

/** Issue a key for the actor's tenant and record it; the secret is returned once, to the caller only. */
export async function createKey(
  keys: KeyStore,
  audit: AuditLog,
  who: Actor,
  name: string,
  scopes: readonly Scope[],
  kind: 'api_key.created' | 'admin_key.recovered' = 'api_key.created',
) {
  const created = await keys.create(who.tenantId, name, scopes);
  await audit.record(who, kind, { target: created.record.keyId, after: recordOf(created.record) });
  return created;
}

/** Revoke a key of the actor's tenant, refusing to revoke its last active admin key; recorded. */
export async function revokeKey(keys: KeyStore, audit: AuditLog, who: Actor, keyId: string): Promise<ApiKeyRecord> {
  const all = await keys.list(who.tenantId);
  const target = all.find((k) => k.keyId === keyId);
  if (!target) throw new KeyChangeError('not_found', `no API key ${keyId} in this tenant`);
  if (isAdminKey(target) && all.filter(isAdminKey).length === 1) {
    throw new KeyChangeError('last_admin_key', "this is the tenant's last active admin key; create another admin key first");
  }
  const revoked = await keys.revoke(target);
  if (!revoked) throw new KeyChangeError('not_found', `no API key ${keyId} in this tenant`);
  await audit.record(who, 'api_key.revoked', { target: keyId, before: recordOf(target), after: recordOf(revoked) });
  return revoked;
}
