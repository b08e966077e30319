import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import { describe, expect, it } from 'vitest';
import { RouteScopes, needs } from './route-scopes.js';

const ok = { 200: { description: 'ok', content: { 'application/json': { schema: z.object({}) } } } };
const route = (method: 'get' | 'post', path: string, security?: { bearer: string[] }[]) =>
  createRoute({ method, path, ...(security ? { security } : {}), responses: ok });

describe('RouteScopes', () => {
  it("reads each route's scope from its declaration; a literal segment wins over a parameter", () => {
    const app = new OpenAPIHono();
    app.openapi(route('get', '/v1/things/{id}', needs('usage:read')), (c) => c.json({}, 200));
    app.openapi(route('get', '/v1/things/special', needs('admin')), (c) => c.json({}, 200));
    const scopes = new RouteScopes();
    scopes.load(app);
    expect(scopes.lookup('GET', '/v1/things/abc')).toBe('usage:read');
    expect(scopes.lookup('HEAD', '/v1/things/abc')).toBe('usage:read');
    expect(scopes.lookup('GET', '/v1/things/special')).toBe('admin');
    expect(scopes.lookup('POST', '/v1/things/abc')).toBeUndefined();
    expect(scopes.lookup('GET', '/v1/things/abc/more')).toBeUndefined();
  });

  it('refuses an app with a /v1 route that declares no scope, an unknown one, or is not in the document', () => {
    const load = (build: (app: OpenAPIHono) => void) => () => {
      const app = new OpenAPIHono();
      build(app);
      new RouteScopes().load(app);
    };
    expect(load((app) => app.openapi(route('get', '/v1/a', [{ bearer: [] }]), (c) => c.json({}, 200)))).toThrow(
      /GET \/v1\/a must declare exactly one known scope/,
    );
    expect(load((app) => app.openapi(route('get', '/v1/a', [{ bearer: ['root'] }]), (c) => c.json({}, 200)))).toThrow(/exactly one known scope/);
    expect(load((app) => app.get('/v1/hidden', (c) => c.text('')))).toThrow(/routes without a declared scope: GET \/v1\/hidden/);
    expect(load((app) => app.get('/healthz', (c) => c.text('')))).not.toThrow();
  });
});
