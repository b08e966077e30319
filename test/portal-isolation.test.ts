import type { RouteConfig } from '@hono/zod-openapi';
import { beforeAll, describe, expect, it } from 'vitest';
import { engine, newTenant, OPERATOR_KEY, type TestTenant } from './harness.js';
import { CUSTOMERS, issueLink, portalFixture, type PortalFixture } from './portal-fixture.js';
import { periodOf } from '../jobs/billing/periods.js';
import { waitFor } from './wait.js';

let t: TestTenant;
let fx: PortalFixture;

beforeAll(async () => {
  // Periods close as soon as they end, and count what was stored up to the run: the previous period is exported here.
  await engine({ BILLING_GRACE_SECONDS: '0', BILLING_CUTOFF_LAG_MS: '0' });
  t = await newTenant();
  fx = await portalFixture(t, 30);
});

/** Every /v1 route of the app, from its OpenAPI document, with path parameters filled in. */
async function everyRoute(): Promise<{ method: string; path: string; scope: string }[]> {
  const r = await engine();
  return r.app.openAPIRegistry.definitions
    .filter((d) => d.type === 'route')
    .map((d) => (d as { route: RouteConfig }).route)
    .filter((route) => route.path.startsWith('/v1/'))
    .map((route) => ({ method: route.method.toUpperCase(), path: route.path.replace(/\{[^}]+\}/g, 'gpu-seconds'), scope: route.security![0]!.bearer![0]! }));
}

describe('a dashboard link', () => {
  it("reaches no route but the portal's data routes, and no API key (admin included) reaches those", async () => {
    const { token } = await issueLink(t, { customerId: 'acme' });
    const routes = await everyRoute();
    expect(routes.filter((r) => r.scope === 'link:portal').length).toBe(5);
    for (const route of routes) {
      const withLink = await t.request(route.method, route.path, { key: token, ...(route.method === 'GET' || route.method === 'DELETE' ? {} : { body: {} }) });
      if (route.scope === 'link:portal') {
        expect([200, 400], `${route.method} ${route.path}`).toContain(withLink.status);
        const withKey = await t.json(route.method, route.path);
        expect(withKey.status, `${route.method} ${route.path} with the admin key`).toBe(403);
        expect(withKey.body.error.code).toBe('link_only');
      } else {
        expect(withLink.status, `${route.method} ${route.path} with a dashboard link`).toBe(403);
      }
    }
  });

  it('and a SQL console link each reach only their own routes', async () => {
    const { secret } = await (await engine()).deps.access.keys.create(t.tenantId, 'analyst', ['sql']);
    const minted = await t.json('POST', '/v1/sql/console-links', { key: secret, body: {} });
    const routes = await everyRoute();
    expect(
      routes
        .filter((r) => r.scope === 'link:sql-console')
        .map((r) => `${r.method} ${r.path}`)
        .sort(),
    ).toEqual(['GET /v1/sql/console/schema', 'POST /v1/sql/console/query']);
    for (const route of routes) {
      const withLink = await t.request(route.method, route.path, {
        key: minted.body.token,
        ...(route.method === 'GET' || route.method === 'DELETE' ? {} : { body: {} }),
      });
      // The run with an empty body is refused for its body (400), so the link got past authorization.
      if (route.scope === 'link:sql-console') expect([200, 400], `${route.method} ${route.path}`).toContain(withLink.status);
      else expect(withLink.status, `${route.method} ${route.path} with a console link`).toBe(403);
    }
  });

  it('shows only its own customer in its own tenant', async () => {
    // Another tenant with a customer of the same id and other events.
    const other = await newTenant();
    const otherFx = await portalFixture(other, 12);
    const mine = await issueLink(t, { customerId: 'acme' });
    const theirs = await issueLink(other, { customerId: 'acme' });
    const current = periodOf(fx.nowMs, CUSTOMERS.acme);
    const value = async (token: string) => (await t.json('GET', '/v1/portal/meters/gpu-seconds/periods?previous=0', { key: token })).body.current.value;
    expect(await value(mine.token)).toBe(fx.oracle('acme', 'gpu-seconds', current.startMs, current.endMs));
    expect(await value(theirs.token)).toBe(otherFx.oracle('acme', 'gpu-seconds', current.startMs, current.endMs));
    expect(await value(mine.token)).not.toBe(await value(theirs.token));
    // The issuing tenant cannot revoke or list another tenant's links.
    expect((await t.json('DELETE', `/v1/portal/tokens/${theirs.id}`)).status).toBe(404);
    expect((await t.json('GET', '/v1/portal/tokens')).body.data.map((l: { id: string }) => l.id)).not.toContain(theirs.id);
  });

  it('is refused while its tenant is disabled', async () => {
    const tenant = await newTenant();
    await portalFixture(tenant, 3);
    const { token } = await issueLink(tenant, { customerId: 'globex' });
    const op = (body: unknown) => tenant.json('PATCH', `/v1/operator/tenants/${tenant.tenantId}`, { key: OPERATOR_KEY, body });
    expect((await op({ disabled: true })).status).toBe(200);
    expect((await tenant.json('GET', '/v1/portal/customer', { key: token })).body.error.code).toBe('tenant_disabled');
    expect((await op({ disabled: false })).status).toBe(200);
  });

  it('is rate limited like any reader', async () => {
    const limited = await newTenant({ PORTAL_REQUESTS_PER_SECOND: 3 });
    await portalFixture(limited, 3);
    const { token } = await issueLink(limited, { customerId: 'acme' });
    const answers = await Promise.all(Array.from({ length: 8 }, () => limited.json('GET', '/v1/portal/customer', { key: token })));
    const refused = answers.filter((a) => a.status === 429);
    expect(refused.length).toBeGreaterThanOrEqual(5);
    expect(refused[0]!.body.error.code).toBe('rate_limited');
    expect(refused[0]!.headers.get('retry-after')).toBe('1');
  });

  it('shows a closed period from its export, saying so', async () => {
    const close = await t.json('POST', '/v1/billing/close');
    expect(close.status).toBe(200);
    const { token } = await issueLink(t, { customerId: 'globex' });
    const previous = periodOf(periodOf(fx.nowMs, CUSTOMERS.globex).startMs - 1, CUSTOMERS.globex);
    await waitFor(
      'the previous period to be exported',
      async () => (await t.json('GET', '/v1/portal/meters/gpu-seconds/periods?previous=1', { key: token })).body.previous[0].source === 'export',
      5_000,
    );
    const res = await t.json('GET', '/v1/portal/meters/gpu-seconds/periods?previous=1', { key: token });
    expect(res.body.previous[0]).toEqual({
      start: new Date(previous.startMs).toISOString(),
      end: new Date(previous.endMs).toISOString(),
      value: fx.oracle('globex', 'gpu-seconds', previous.startMs, previous.endMs),
      source: 'export',
    });
    // Periods computed on both sides of the exported one (one read of the months between them): each has its own value.
    const earlier = [previous];
    while (earlier.length < 3) earlier.push(periodOf(earlier.at(-1)!.startMs - 1, CUSTOMERS.globex));
    const current = periodOf(fx.nowMs, CUSTOMERS.globex);
    for (const meter of ['gpu-seconds', 'api-calls']) {
      const three = await t.json('GET', `/v1/portal/meters/${meter}/periods?previous=3`, { key: token });
      expect(three.body.current.value).toEqual(fx.oracle('globex', meter, current.startMs, current.endMs));
      expect(three.body.previous).toEqual(
        earlier.map((p, i) => ({
          start: new Date(p.startMs).toISOString(),
          end: new Date(p.endMs).toISOString(),
          value: fx.oracle('globex', meter, p.startMs, p.endMs),
          source: i === 0 ? 'export' : 'computed',
        })),
      );
    }
  });
});
