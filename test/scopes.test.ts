import { beforeAll, describe, expect, it } from 'vitest';
import { OPERATOR_KEY, engine, newTenant, type TestTenant } from './harness.js';
import { LINK_SCOPES, OPERATOR_SCOPE, SCOPES, isLinkScope, type Scope } from '../access/scopes.js';

/**
 * Every route of the app, taken from the router itself (app.routes), so a
 * route added tomorrow is in this test without anyone listing it: each
 * declares one scope in /openapi.json, a key without that scope gets 403, a
 * key with only that scope does not, and the operator credential reaches the
 * operator's routes and no tenant's.
 */
interface Route {
  method: string;
  path: string;
  scope: string;
}

let routes: Route[];
let tenant: TestTenant;
const only = new Map<string, string>();
const allBut = new Map<string, string>();

const concrete = (path: string) => path.replace(/:[^/]+/g, 'x');
/** A 204 (DELETE /v1/webhooks) has no body: its status is what counts. */
const call = async (method: string, path: string, key: string) => {
  const res = await tenant.request(method, concrete(path), method === 'GET' ? { key } : { key, raw: '{}', headers: { 'content-type': 'application/json' } });
  return { status: res.status, body: res.status === 204 ? null : ((await res.json()) as any) };
};

beforeAll(async () => {
  const { app } = await engine();
  const doc = await (await app.request('/openapi.json')).json();
  const seen = new Set<string>();
  routes = [];
  for (const r of app.routes) {
    // middleware (app.use / app.on on a wildcard) is not a route
    if (r.method === 'ALL' || r.path.endsWith('/*') || !r.path.startsWith('/v1/') || seen.has(`${r.method} ${r.path}`)) continue;
    seen.add(`${r.method} ${r.path}`);
    const op = doc.paths[r.path.replace(/:([^/]+)/g, '{$1}')]?.[r.method.toLowerCase()];
    const declared: string[] = op?.security?.[0]?.bearer ?? [];
    expect(declared, `${r.method} ${r.path} declares its scope in /openapi.json`).toHaveLength(1);
    routes.push({ method: r.method, path: r.path, scope: declared[0]! });
  }
  tenant = await newTenant();
  const create = async (name: string, scopes: Scope[]) => {
    const res = await tenant.json('POST', '/v1/api-keys', { body: { name, scopes } });
    expect(res.status).toBe(201);
    return res.body.key as string;
  };
  for (const scope of SCOPES) {
    only.set(scope, await create(`only ${scope}`, [scope]));
    allBut.set(
      scope,
      await create(
        `all but ${scope}`,
        SCOPES.filter((s) => s !== scope && s !== 'admin'),
      ),
    );
  }
});

describe('scopes, for every route of the router', () => {
  it('finds every route, each with a known scope', () => {
    expect(routes.length).toBeGreaterThanOrEqual(20);
    for (const r of routes) expect([...SCOPES, OPERATOR_SCOPE, ...LINK_SCOPES], `${r.method} ${r.path}`).toContain(r.scope);
    // the scopes the product's routes use today
    expect(new Set(routes.map((r) => r.scope))).toEqual(
      new Set([
        'events:write',
        'usage:read',
        'billing:read',
        'billing:write',
        'meters:write',
        'customers:write',
        'portal:issue',
        'sql',
        'admin',
        'operator',
        'link:portal',
        'link:sql-console',
      ]),
    );
  });

  it('a key without the scope gets 403; a key with only that scope does not', async () => {
    // Link routes are reached by a signed link only, by no key: test/portal-isolation.test.ts walks them.
    for (const r of routes.filter((r) => r.scope !== OPERATOR_SCOPE && !isLinkScope(r.scope))) {
      const without = await call(r.method, r.path, allBut.get(r.scope)!);
      expect(without.status, `${r.method} ${r.path} without ${r.scope}`).toBe(403);
      expect(without.body.error.code).toBe('forbidden');
      expect(without.body.error.message).toContain(r.scope);
      const withIt = await call(r.method, r.path, only.get(r.scope)!);
      expect([401, 403], `${r.method} ${r.path} with ${r.scope}: ${JSON.stringify(withIt.body)}`).not.toContain(withIt.status);
      const admin = await call(r.method, r.path, tenant.adminKey);
      expect([401, 403], `${r.method} ${r.path} with admin`).not.toContain(admin.status);
    }
  });

  it('the operator credential gets 403 on every tenant route, and only it passes the operator routes', async () => {
    for (const r of routes) {
      const operator = await call(r.method, r.path, OPERATOR_KEY);
      if (r.scope === OPERATOR_SCOPE) {
        expect([401, 403], `${r.method} ${r.path} as operator`).not.toContain(operator.status);
        for (const key of [tenant.adminKey, ...only.values()])
          expect((await call(r.method, r.path, key)).status, `${r.method} ${r.path} with a tenant key`).toBe(403);
      } else {
        expect(operator.status, `${r.method} ${r.path} as operator`).toBe(403);
        expect(operator.body.error.code).toBe('operator_not_tenant');
      }
    }
  });
});
