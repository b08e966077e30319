import type { LinkClaims } from '../access/link-tokens.js';
import { LimitExceededError, type IngestRate } from '../access/limits.js';
import { linkScope, type RouteScope } from '../access/scopes.js';
import { ApiError } from './errors.js';

const REFUSALS = {
  invalid: { code: 'unauthorized', message: 'this link is not valid: ask for a new link' },
  expired: { code: 'link_expired', message: 'this link has expired: ask for a new link' },
  revoked: { code: 'link_revoked', message: 'this link was revoked: ask for a new link' },
} as const;

/** Why a link token was refused, as the 401 the page shows (it tells an expired or revoked link from a broken one). */
export function linkRefused(reason: keyof typeof REFUSALS): ApiError {
  const { code, message } = REFUSALS[reason];
  return new ApiError(401, code, message, undefined, { 'WWW-Authenticate': 'Bearer' });
}

/**
 * A signed link reaches only the routes that declare its own link scope
 * (a dashboard link: /v1/portal/... data routes), and makes at most
 * `perSecond` requests per second; its reads are bounded as every tenant
 * read is (read slots, the read gate's engine limits).
 */
export function checkLink(link: LinkClaims, needed: RouteScope, linkRate: { rate: IngestRate; perSecond: number } | undefined): void {
  if (needed !== linkScope(link.kind))
    throw new ApiError(403, 'forbidden', `a ${link.kind} link reaches only its own pages' data, not this route (it needs ${needed})`, { required: needed });
  if (!linkRate) return;
  try {
    linkRate.rate.take(link.linkId, 1, linkRate.perSecond);
  } catch (error) {
    if (!(error instanceof LimitExceededError)) throw error;
    throw new ApiError(
      429,
      'rate_limited',
      `a link may make ${linkRate.perSecond} requests per second (PORTAL_REQUESTS_PER_SECOND); retry after ${error.retryAfterSeconds} s`,
      undefined,
      { 'Retry-After': String(error.retryAfterSeconds) },
    );
  }
}
