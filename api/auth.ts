import { createMiddleware } from 'hono/factory';
import type { AppEnv } from './context.js';
import { ApiError } from './errors.js';
import { resolveCaller, type Access } from '../access/access.js';
import { OPERATOR_SCOPE, grants, isLinkScope } from '../access/scopes.js';
import type { RouteScopes } from './route-scopes.js';
import type { LinkStore } from '../access/links.js';
import { LINK_PREFIX } from '../access/link-tokens.js';
import { checkLink, linkRefused } from './link-auth.js';
import type { IngestRate } from '../access/limits.js';

// Links carry their claims (up to 16 meter keys), so they are longer than keys.
const BEARER = /^Bearer\s+(\S{1,2048})$/i;
const unauthorized = (message: string) => new ApiError(401, 'unauthorized', message, undefined, { 'WWW-Authenticate': 'Bearer' });

/** Resolves `Authorization: Bearer <key>` to a caller: a tenant's key (the tenant of every request comes from here) or the operator. */
export function authenticate(access: Access, links: LinkStore) {
  return createMiddleware<AppEnv>(async function authenticateCaller(c, next) {
    const match = BEARER.exec(c.req.header('authorization') ?? '');
    if (!match) throw unauthorized('missing API key: send Authorization: Bearer <key>');
    if (match[1]!.startsWith(LINK_PREFIX)) {
      const check = await links.check(match[1]!);
      if (!check.ok) throw linkRefused(check.reason);
      const { link } = check;
      const principal = { tenantId: link.tenantId, keyId: link.linkId, scopes: [] };
      c.set('caller', { kind: 'link', link, principal, tenant: await access.tenants.get(link.tenantId) });
      c.set('principal', principal);
      c.set('link', link);
      return next();
    }
    const caller = await resolveCaller(access, match[1]!);
    if (!caller) throw unauthorized('unknown or revoked API key');
    c.set('caller', caller);
    if (caller.kind === 'tenant') c.set('principal', caller.principal);
    await next();
  });
}

/**
 * Every request passes here after authentication: a disabled tenant is
 * refused on every route, the operator on every tenant route, and a key on a
 * route whose declared scope it does not hold. A tenant's reads (GET) take
 * one of its concurrent-read slots for as long as the handler runs.
 */
export function authorize(routes: RouteScopes, access: Access, linkRate?: { rate: IngestRate; perSecond: number }) {
  return createMiddleware<AppEnv>(async function authorizeCaller(c, next) {
    const caller = c.get('caller');
    const needed = routes.lookup(c.req.method, c.req.path);
    if (caller.kind === 'operator') {
      if (needed !== undefined && needed !== OPERATOR_SCOPE)
        throw new ApiError(403, 'operator_not_tenant', "the operator credential manages tenants and reads no tenant's data; use a key of the tenant");
      return next();
    }
    const { tenant, principal } = caller;
    if (!tenant || tenant.disabled)
      throw new ApiError(403, 'tenant_disabled', `tenant "${principal.tenantId}" is disabled; its data is kept, and the operator can enable it again`);
    if (needed === undefined) return next();
    if (caller.kind === 'link') checkLink(caller.link, needed, linkRate);
    else if (isLinkScope(needed))
      throw new ApiError(403, 'link_only', `this route is reached with a signed ${needed.slice(5)} link only, not with an API key`, { required: needed });
    else if (!grants(principal.scopes, needed)) {
      throw new ApiError(403, 'forbidden', `this operation needs the scope ${needed}; this key has ${principal.scopes.join(', ') || 'none'}`, {
        required: needed,
        held: principal.scopes,
      });
    }
    if (c.req.method !== 'GET' && c.req.method !== 'HEAD') return next();
    const release = access.readSlots.acquire(principal.tenantId, tenant.effectiveLimits.concurrentReads);
    try {
      await next();
    } finally {
      release();
    }
  });
}
