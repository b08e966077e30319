import { LINK_KINDS, type LinkKind } from './link-tokens.js';

/**
 * What a key may do. A key holds a set of scopes chosen when it is created;
 * every route declares the one scope it needs (api/route-scopes.ts reads the
 * declaration from the OpenAPI document and enforces it).
 */
export const SCOPES = [
  'events:write',
  'usage:read',
  'billing:read',
  'billing:write',
  'meters:write',
  'customers:write',
  'sql',
  'portal:issue',
  'admin',
] as const;
export type Scope = (typeof SCOPES)[number];

/** The operator's one scope: tenants and their limits. No tenant key ever holds it, and `admin` does not imply it. */
export const OPERATOR_SCOPE = 'operator';

/** What a route needs to be reached by a signed link of one kind (access/link-tokens.ts): only such a link holds it; no key does, and `admin` does not imply it. */
export type LinkScope = `link:${LinkKind}`;
export const linkScope = (kind: LinkKind): LinkScope => `link:${kind}`;
export const LINK_SCOPES: readonly LinkScope[] = LINK_KINDS.map(linkScope);
export const isLinkScope = (scope: string): scope is LinkScope => (LINK_SCOPES as readonly string[]).includes(scope);

export type RouteScope = Scope | typeof OPERATOR_SCOPE | LinkScope;

/**
 * The roles keys had before scopes (api_keys.role), as the scope sets they
 * still mean. `standard` could do every route that was not admin-only:
 * send events, read usage, events, meters and customers, and read exports.
 * Migration 12 (sql/datasets/tenancy.ts) maps stored rows the same way.
 */
export const ROLE_SCOPES = {
  admin: ['admin'],
  standard: ['events:write', 'usage:read', 'billing:read'],
} as const satisfies Record<string, readonly Scope[]>;
export type Role = keyof typeof ROLE_SCOPES;
export const ROLES = Object.keys(ROLE_SCOPES) as Role[];

/** A key's scopes in one canonical order, each once. */
export function normaliseScopes(scopes: readonly Scope[]): Scope[] {
  const held = new Set(scopes);
  return SCOPES.filter((s) => held.has(s));
}

/** The role whose scope set is exactly these scopes, if any (keys keep showing `role` to older clients). */
export function roleOf(scopes: readonly Scope[]): Role | null {
  const canonical = normaliseScopes(scopes).join(',');
  return ROLES.find((r) => normaliseScopes(ROLE_SCOPES[r]).join(',') === canonical) ?? null;
}

/** Whether a caller holding `held` may use a route that needs `needed`: `admin` grants every tenant scope, never the operator's. */
export function grants(held: readonly string[], needed: RouteScope): boolean {
  if (held.includes(needed)) return true;
  return needed !== OPERATOR_SCOPE && !isLinkScope(needed) && held.includes('admin');
}
