import { describe, expect, it } from 'vitest';
import { analystTenant } from './analyst-fixture.js';

describe('analyst SQL history', () => {
  it("lists the tenant's queries newest first (key, when, duration, rows read, status), pages, and writes each to the audit log", async () => {
    const t = await analystTenant();
    const other = await analystTenant();
    expect((await t.sql({ query: 'SELECT sum(number) AS s FROM numbers(1000)' })).status).toBe(200);
    expect((await t.sql({ query: "SELECT file('/etc/passwd')" })).status).toBe(400);
    expect((await t.sql({ query: 'SELECT nosuchcolumn FROM events' })).status).toBe(400);
    expect((await t.request('POST', '/v1/sql', { body: { query: 'SELECT number FROM numbers(3)', format: 'jsonl' }, key: t.sqlKey })).status).toBe(200);
    expect((await other.sql({ query: 'SELECT 1' })).status).toBe(200);

    const page = await t.json('GET', '/v1/sql/history?limit=3', { key: t.sqlKey });
    expect(page.status).toBe(200);
    expect(page.body.data.map((h: any) => [h.status, h.format, h.resultRows])).toEqual([
      ['ok', 'jsonl', 3],
      ['error', 'json', 0],
      ['refused', 'json', 0],
    ]);
    const [latest] = page.body.data;
    // A streamed answer on the embedded engine: the engine does not tell what it read.
    expect(latest).toMatchObject({ keyId: expect.stringMatching(/^key_/), query: 'SELECT number FROM numbers(3)', error: '', rowsRead: null });
    expect(Date.parse(latest.startedAt)).toBeGreaterThan(Date.now() - 60_000);
    expect(page.body.data[1].error).toMatch(/nosuchcolumn/);
    const rest = await t.json('GET', `/v1/sql/history?limit=3&cursor=${page.body.nextCursor}`, { key: t.sqlKey });
    expect(rest.body.data).toHaveLength(1);
    expect(rest.body.data[0]).toMatchObject({ status: 'ok', rowsRead: 1000, resultRows: 1 });
    expect(rest.body.data[0].durationMs).toBeGreaterThanOrEqual(0);
    expect(rest.body.nextCursor).toBeNull();

    const audit = await t.json('GET', '/v1/audit?kind=sql.query');
    expect(audit.body.data.map((e: any) => e.after.status)).toEqual(['ok', 'refused', 'error', 'ok']);
    expect(audit.body.data[0]).toMatchObject({ actor: latest.keyId, target: rest.body.data[0].queryId });
    expect((await t.json('GET', '/v1/audit/verify')).body.ok).toBe(true);
    expect((await other.json('GET', '/v1/sql/history', { key: other.sqlKey })).body.data).toHaveLength(1);
  });
});
