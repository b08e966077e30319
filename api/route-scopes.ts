import type { OpenAPIHono, RouteConfig } from '@hono/zod-openapi';
import { LINK_SCOPES, OPERATOR_SCOPE, SCOPES, type RouteScope } from '../access/scopes.js';

const KNOWN = new Set<string>([...SCOPES, OPERATOR_SCOPE, ...LINK_SCOPES]);

/**
 * The security requirement of a route that needs `scope`: OpenAPI 3.1 lets a
 * non-OAuth scheme list the roles an operation needs, so the scope a route
 * needs is in /openapi.json, and this declaration is also what is enforced.
 */
export const needs = (scope: RouteScope) => [{ bearer: [scope] }];

/** `/v1/meters/{key}` and Hono's `/v1/meters/:key` in one form. */
const templateOf = (path: string) => path.replace(/\{([^}]+)\}/g, ':$1');

interface Entry {
  method: string;
  template: string;
  pattern: RegExp;
  scope: RouteScope;
  params: number;
}

/**
 * Which scope each route needs, read from the OpenAPI registry once the routes
 * are registered. `check` refuses to start an app with a /v1 route the
 * registry does not declare, or that declares no known scope: a new route
 * cannot be forgotten.
 */
export class RouteScopes {
  private entries: Entry[] = [];

  load(app: OpenAPIHono<any>): void {
    const entries: Entry[] = [];
    for (const definition of app.openAPIRegistry.definitions) {
      if (definition.type !== 'route') continue;
      const route: RouteConfig = definition.route;
      if (!route.path.startsWith('/v1/')) continue;
      const scopes = route.security?.flatMap((s) => s.bearer ?? []) ?? [];
      const [scope] = scopes;
      if (scopes.length !== 1 || !KNOWN.has(scope!))
        throw new Error(
          `${route.method.toUpperCase()} ${route.path} must declare exactly one known scope (security: needs(...)); it declares ${JSON.stringify(scopes)}`,
        );
      const template = templateOf(route.path);
      const source = template
        .split('/')
        .map((s) => (s.startsWith(':') ? '[^/]+' : s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
        .join('/');
      entries.push({
        method: route.method.toUpperCase(),
        template,
        pattern: new RegExp(`^${source}$`),
        scope: scope as RouteScope,
        params: (template.match(/:/g) ?? []).length,
      });
    }
    // A literal segment wins over a parameter (/v1/dead-letters/replay before a /v1/dead-letters/{id}).
    this.entries = entries.sort((a, b) => a.params - b.params);
    const undeclared = app.routes.filter(
      (r) =>
        r.method !== 'ALL' && r.path.startsWith('/v1/') && !r.path.endsWith('/*') && !this.entries.some((e) => e.method === r.method && e.template === r.path),
    );
    if (undeclared.length > 0) throw new Error(`routes without a declared scope: ${undeclared.map((r) => `${r.method} ${r.path}`).join(', ')}`);
  }

  /** The scope a request needs; undefined when no route matches (the app answers 404). */
  lookup(method: string, path: string): RouteScope | undefined {
    const m = method === 'HEAD' ? 'GET' : method;
    return this.entries.find((e) => e.method === m && e.pattern.test(path))?.scope;
  }
}
