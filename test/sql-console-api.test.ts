import { describe, expect, it } from 'vitest';
import { analystTenant, type AnalystTenant } from './analyst-fixture.js';
import { engine } from './harness.js';

/** Mint a console link with the tenant's sql-only key. */
async function mint(t: AnalystTenant, body: unknown = {}) {
  return t.json('POST', '/v1/sql/console-links', { key: t.sqlKey, body });
}

const QUERY = { query: 'SELECT number AS n, toString(number * 7) AS s FROM numbers(5) ORDER BY n', params: {} };

describe('SQL console links', () => {
  it('are minted by a key with sql only, for 15 minutes by default and at most an hour, and audited', async () => {
    const t = await analystTenant();
    const minted = await mint(t);
    expect(minted.status).toBe(201);
    expect(Date.parse(minted.body.expiresAt) - Date.parse(minted.body.createdAt)).toBe(900_000);
    expect(minted.body.url).toMatch(new RegExp(`/dashboards/sql/#token=${minted.body.token}$`));
    expect((await mint(t, { expiresInSeconds: 3600 })).status).toBe(201);
    expect((await mint(t, { expiresInSeconds: 3601 })).status).toBe(400);
    // A key without sql (a key of the portal) cannot mint one.
    const { secret } = await (await engine()).deps.access.keys.create(t.tenantId, 'portal', ['portal:issue']);
    expect((await t.json('POST', '/v1/sql/console-links', { key: secret, body: {} })).status).toBe(403);
    const audit = await t.json('GET', '/v1/audit?kind=sql_console_link.issued');
    expect(audit.body.data.map((e: { target: string }) => e.target)).toContain(minted.body.id);
    expect(JSON.stringify(audit.body)).not.toContain(minted.body.token);
    const live = await t.json('GET', '/v1/sql/console-links', { key: t.sqlKey });
    expect(live.body.data.map((l: { id: string }) => l.id)).toContain(minted.body.id);
    expect(JSON.stringify(live.body)).not.toContain(minted.body.token);
  });

  it('run what POST /v1/sql runs, in the history with the link and the key that minted it', async () => {
    const t = await analystTenant();
    const { body: link } = await mint(t);
    const viaLink = await t.json('POST', '/v1/sql/console/query', { key: link.token, body: QUERY });
    const viaKey = await t.sql(QUERY);
    expect(viaLink.status).toBe(200);
    const comparable = ({ columns, data, rows, truncated }: any) => ({ columns, data, rows, truncated });
    expect(comparable(viaLink.body)).toEqual(comparable(viaKey.body));
    const schema = await t.json('GET', '/v1/sql/console/schema', { key: link.token });
    expect(schema.body).toEqual((await t.json('GET', '/v1/sql/schema', { key: t.sqlKey })).body);
    const csv = await t.request('POST', '/v1/sql/console/query', { key: link.token, body: { ...QUERY, format: 'csv' } });
    expect(await csv.text()).toBe('"n","s"\n0,"0"\n1,"7"\n2,"14"\n3,"21"\n4,"28"\n');

    const history = (await t.json('GET', '/v1/sql/history?limit=3', { key: t.sqlKey })).body.data;
    const keyId = (await t.json('GET', '/v1/audit?kind=sql_console_link.issued')).body.data[0].actor;
    expect(history.map((h: any) => [h.format, h.linkId, h.keyId])).toEqual([
      ['csv', link.id, keyId],
      ['json', null, keyId],
      ['json', link.id, keyId],
    ]);
    const audit = (await t.json('GET', '/v1/audit?kind=sql.query')).body.data;
    expect(audit.filter((e: any) => e.after.consoleLink === link.id)).toHaveLength(2);
  });

  it("reach nothing once revoked or of another tenant, and a key cannot use the console's routes", async () => {
    const t = await analystTenant();
    const other = await analystTenant();
    const { body: link } = await mint(t);
    expect((await t.json('POST', '/v1/sql/console/query', { key: t.sqlKey, body: QUERY })).body.error.code).toBe('link_only');
    expect((await other.json('DELETE', `/v1/sql/console-links/${link.id}`, { key: other.sqlKey })).status).toBe(404);
    // The other tenant's analyst sees only its own (empty) data through its link.
    const { body: theirs } = await mint(other);
    await t.json('POST', '/v1/events', { body: { eventId: 'e1', customerId: 'acme', metricName: 'api.calls' } });
    const count = async (token: string) =>
      (await t.json('POST', '/v1/sql/console/query', { key: token, body: { query: 'SELECT count() AS c FROM events' } })).body.data[0].c;
    expect([await count(link.token), await count(theirs.token)]).toEqual(['1', '0']);
    expect((await t.json('DELETE', `/v1/sql/console-links/${link.id}`, { key: t.sqlKey })).body.revokedAt).not.toBeNull();
    const refused = await t.json('POST', '/v1/sql/console/query', { key: link.token, body: QUERY });
    expect([refused.status, refused.body.error.code]).toEqual([401, 'link_revoked']);
  });
});
