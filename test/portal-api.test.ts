import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { engine, newTenant, type TestTenant } from './harness.js';
import { CUSTOMERS, issueLink, portalFixture, type PortalFixture } from './portal-fixture.js';
import { periodOf } from '../jobs/billing/periods.js';
import { LinkTokens } from '../access/link-tokens.js';
import { LinkStore } from '../access/links.js';
import { SIGNING_KEY_FILE } from '../access/link-key.js';
import { waitFor } from './wait.js';
import { recordStatements } from './record-statements.js';
import { now } from './clock.js';

let t: TestTenant;
let fx: PortalFixture;
const bearer = (token: string) => ({ key: token });

beforeAll(async () => {
  t = await newTenant();
  fx = await portalFixture(t);
});

describe('dashboard links', () => {
  it('are issued for one customer with the token in the URL fragment, listed without it, and reach the portal API', async () => {
    const link = await issueLink(t, { customerId: 'acme' });
    expect(link.url).toMatch(/^http:\/\/localhost\/dashboards\/portal\/#token=mhl_/);
    expect(link.url.endsWith(link.token)).toBe(true);
    expect(Date.parse(link.expiresAt) - now()).toBeGreaterThan(3500_000);
    const listed = await t.json('GET', '/v1/portal/tokens?customerId=acme');
    expect(listed.body.data.map((l: { id: string }) => l.id)).toContain(link.id);
    expect(JSON.stringify(listed.body)).not.toContain(link.token);
    const me = await t.json('GET', '/v1/portal/customer', bearer(link.token));
    expect(me.status).toBe(200);
    expect(me.body.customer).toMatchObject({
      customerId: 'acme',
      name: 'acme Inc.',
      timezone: 'Europe/Berlin',
      billingCycle: { interval: 'month', anchorDay: 1 },
    });
    expect(me.body.meters.map((m: { key: string }) => m.key).sort()).toEqual(['api-calls', 'gpu-seconds']);
    expect(Date.parse(me.body.refreshedAt)).toBeGreaterThanOrEqual(fx.nowMs);
  });

  it('point at PUBLIC_URL when it is set', async () => {
    const behindProxy = await newTenant({ PUBLIC_URL: 'https://usage.example.com' });
    expect((await issueLink(behindProxy, { customerId: 'acme' })).url).toMatch(/^https:\/\/usage\.example\.com\/dashboards\/portal\/#token=mhl_/);
  });

  it('refuse bad input precisely: unknown meters, too long a life, other fields', async () => {
    expect((await t.json('POST', '/v1/portal/tokens', { body: { customerId: 'acme', meters: ['nope'] } })).body.error.details).toEqual({ unknown: ['nope'] });
    expect((await t.json('POST', '/v1/portal/tokens', { body: { customerId: 'acme', expiresInSeconds: 30 * 86_400 + 1 } })).status).toBe(400);
    expect((await t.json('POST', '/v1/portal/tokens', { body: { customerId: 'acme', tenantId: 'other' } })).status).toBe(400);
  });

  it('give each period the same value as the meter usage API and the oracle; earlier periods say they are computed', async () => {
    for (const customerId of Object.keys(CUSTOMERS) as (keyof typeof CUSTOMERS)[]) {
      const { token } = await issueLink(t, { customerId });
      const current = periodOf(fx.nowMs, CUSTOMERS[customerId]);
      const previous = periodOf(current.startMs - 1, CUSTOMERS[customerId]);
      for (const meter of ['gpu-seconds', 'api-calls']) {
        const res = await t.json('GET', `/v1/portal/meters/${meter}/periods?previous=2`, bearer(token));
        expect(res.status).toBe(200);
        expect(res.body.current).toEqual({
          start: new Date(current.startMs).toISOString(),
          end: new Date(current.endMs).toISOString(),
          value: fx.oracle(customerId, meter, current.startMs, current.endMs),
        });
        expect(res.body.previous[0]).toEqual({
          start: new Date(previous.startMs).toISOString(),
          end: new Date(previous.endMs).toISOString(),
          value: fx.oracle(customerId, meter, previous.startMs, previous.endMs),
          source: 'computed',
        });
        const api = await t.json('GET', `/v1/meters/${meter}/usage?from=${current.startMs}&to=${current.endMs}&granularity=total&customerId=${customerId}`);
        expect(api.body.data[0].value).toEqual(res.body.current.value);
      }
    }
  });

  it('read usage as the meter usage API does, with the customer fixed, and refuse groupBy customerId', async () => {
    const { token } = await issueLink(t, { customerId: 'globex' });
    const current = periodOf(fx.nowMs, CUSTOMERS.globex);
    const q = `from=${current.startMs}&to=${current.endMs}&granularity=day&tz=America/New_York&groupBy=region`;
    const portal = await t.json('GET', `/v1/portal/meters/gpu-seconds/usage?${q}`, bearer(token));
    const api = await t.json('GET', `/v1/meters/gpu-seconds/usage?${q}&customerId=globex`);
    expect(portal.status).toBe(200);
    expect(portal.body.data).toEqual(api.body.data);
    expect(portal.body.refreshedAt).toBeTypeOf('string');
    expect((await t.json('GET', `/v1/portal/meters/gpu-seconds/usage?${q}&groupBy=customerId`, bearer(token))).status).toBe(400);
    // customerId is not a parameter of the portal: sent anyway, it changes nothing.
    const other = await t.json('GET', `/v1/portal/meters/gpu-seconds/usage?${q}&customerId=acme`, bearer(token));
    expect(other.body.data).toEqual(api.body.data);
    const csv = await t.request('GET', `/v1/portal/meters/gpu-seconds/usage?${q}`, { key: token, headers: { accept: 'text/csv' } });
    expect(csv.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    expect((await csv.text()).split('\n')[0]).toBe('windowStart,windowEnd,region,value');
  });

  it("list the customer's events of the meter, as JSON and CSV, and nobody else's", async () => {
    const { token } = await issueLink(t, { customerId: 'acme' });
    const res = await t.json('GET', '/v1/portal/meters/api-calls/events?limit=1000', bearer(token));
    const expected = fx.events
      .filter((e) => e.customerId === 'acme' && e.metricName === 'api.calls')
      .map((e) => e.eventId)
      .sort();
    expect(res.body.data.map((e: { eventId: string }) => e.eventId).sort()).toEqual(expected);
    const csv = await t.request('GET', '/v1/portal/meters/api-calls/events?limit=1000', { key: token, headers: { accept: 'text/csv' } });
    expect((await csv.text()).trim().split('\n')).toHaveLength(expected.length + 1);
    expect(csv.headers.get('x-refreshed-at')).toBeTruthy();
  });

  it('show only the meters they name', async () => {
    const { token } = await issueLink(t, { customerId: 'acme', meters: ['api-calls'] });
    expect((await t.json('GET', '/v1/portal/customer', bearer(token))).body.meters.map((m: { key: string }) => m.key)).toEqual(['api-calls']);
    for (const path of ['periods', 'usage?from=0&to=1000', 'events'])
      expect((await t.json('GET', `/v1/portal/meters/gpu-seconds/${path}`, bearer(token))).status, path).toBe(404);
  });

  it('are checked with one lookup for the burst of calls a dashboard makes as it opens (a new link, or one not cached)', async () => {
    const { token } = await issueLink(t, { customerId: 'acme' });
    const r = await engine();
    const key = (await readFile(join(r.deps.config.DATA_DIR, SIGNING_KEY_FILE), 'utf8')).trim();
    // Another instance, as a process that has not seen the link yet.
    const other = new LinkStore(r.deps.db, new LinkTokens(key), now, 60);
    const statements = recordStatements(r.deps.db.client);
    try {
      const checks = await Promise.all(Array.from({ length: 6 }, () => other.check(token)));
      expect(checks.map((c) => c.ok)).toEqual(Array(6).fill(true));
      expect(statements.list.filter((s) => s.name === 'links.by_id')).toHaveLength(1);
    } finally {
      statements.stop();
    }
  });

  it('are refused once revoked, here at once and by another instance within its cache period, and once expired', async () => {
    const { id, token } = await issueLink(t, { customerId: 'acme' });
    const r = await engine();
    const key = (await readFile(join(r.deps.config.DATA_DIR, SIGNING_KEY_FILE), 'utf8')).trim();
    // Another instance on the same storage, sharing the key, that has already seen the link live.
    const other = new LinkStore(r.deps.db, new LinkTokens(key), now, 1);
    expect((await other.check(token)).ok).toBe(true);
    expect((await t.json('DELETE', `/v1/portal/tokens/${id}`)).body.revokedAt).toBeTypeOf('string');
    const refused = await t.json('GET', '/v1/portal/customer', bearer(token));
    expect(refused.status).toBe(401);
    expect(refused.body.error.code).toBe('link_revoked');
    await waitFor('the other instance to refuse the revoked link', async () => !(await other.check(token)).ok, 5_000);
    expect((await t.json('GET', '/v1/portal/tokens?customerId=acme')).body.data.map((l: { id: string }) => l.id)).not.toContain(id);
    // An expired link (signed with the same key, as issued a day ago for an hour).
    const expired = new LinkTokens(key).sign({ kind: 'portal', linkId: id, tenantId: t.tenantId, customerId: 'acme', meters: null, expiresAtMs: now() - 1000 });
    expect((await t.json('GET', '/v1/portal/customer', bearer(expired))).body.error.code).toBe('link_expired');
    // One signed with another key, or for another customer without a signature.
    const forged = new LinkTokens('not-the-signing-key-0123456789').sign({
      kind: 'portal',
      linkId: id,
      tenantId: t.tenantId,
      customerId: 'acme',
      meters: null,
      expiresAtMs: now() + 60_000,
    });
    expect((await t.json('GET', '/v1/portal/customer', bearer(forged))).body.error.code).toBe('unauthorized');
    expect((await t.json('DELETE', '/v1/portal/tokens/lnk_nope')).status).toBe(404);
  });

  // Last: it moves globex's cycle. Periods that are not calendar months are read one by one, to the same values.
  it('give the same values for a cycle anchored mid-month', async () => {
    const cycle = { timezone: 'America/New_York', interval: 'month', anchorDay: 15 } as const;
    expect((await t.json('PUT', '/v1/customers/globex', { body: { billingCycle: { interval: 'month', anchorDay: 15 } } })).status).toBe(200);
    const { token } = await issueLink(t, { customerId: 'globex' });
    const current = periodOf(fx.nowMs, cycle);
    const previous = periodOf(current.startMs - 1, cycle);
    const res = await t.json('GET', '/v1/portal/meters/gpu-seconds/periods?previous=1', bearer(token));
    expect(res.body.current.value).toBe(fx.oracle('globex', 'gpu-seconds', current.startMs, current.endMs));
    expect(res.body.previous[0].value).toBe(fx.oracle('globex', 'gpu-seconds', previous.startMs, previous.endMs));
    expect(res.body.previous[0].start).toBe(new Date(previous.startMs).toISOString());
  });
});
