import { createMiddleware } from 'hono/factory';
import type { AppEnv } from './context.js';
import type { KeyStore } from './keys.js';
import { ApiError } from './errors.js';
import type { ApiKeyRole } from '../sql/queries/tenancy.js';

const BEARER = /^Bearer\s+(\S{1,512})$/i;

/** Resolves `Authorization: Bearer <key>` to a principal; the tenant of every request comes from here. */
export function apiKeyAuth(keys: KeyStore) {
  return createMiddleware<AppEnv>(async function authenticate(c, next) {
    const match = BEARER.exec(c.req.header('authorization') ?? '');
    if (!match) throw new ApiError(401, 'unauthorized', 'missing API key: send Authorization: Bearer <key>', undefined, { 'WWW-Authenticate': 'Bearer' });
    const principal = await keys.authenticate(match[1]!);
    if (!principal) throw new ApiError(401, 'unauthorized', 'unknown or revoked API key', undefined, { 'WWW-Authenticate': 'Bearer' });
    c.set('principal', principal);
    await next();
  });
}

export function requireRole(role: ApiKeyRole) {
  return createMiddleware<AppEnv>(async function checkRole(c, next) {
    if (c.get('principal').role !== role) throw new ApiError(403, 'forbidden', `this operation needs an ${role} key`);
    await next();
  });
}
