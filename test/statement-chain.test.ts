import type { ClickHouseClient } from '@clickhouse/client';
import { describe, expect, it } from 'vitest';
import { OPERATOR_KEY, engine } from './harness.js';
import { analystTenant } from './analyst-fixture.js';
import { waitFor } from './wait.js';

/** Formats rows in blocks of 1,000, then fails on row 65,000: the rows formatted before it stay behind. */
const FAILS_AFTER_ROWS = 'SELECT number AS n, throwIf(number = 65000) AS t FROM numbers(100000) SETTINGS max_block_size = 1000';
const MINE = 'SELECT 42 AS answer';

async function rowsOf(client: ClickHouseClient, query: string): Promise<unknown[]> {
  return (await client.query({ query, format: 'JSONEachRow' })).json();
}

/**
 * chdb keeps what a failed statement had written and hands it to the next
 * statement on the connection (sql/statement-chain.ts). Every embedded
 * connection meterhouse opens runs its statements through a chain that drains it.
 */
describe('a failed statement leaves nothing for the next one on its connection', () => {
  it("chdb itself hands the next statement the failed one's rows (why the chain exists; if chdb stops, this fails)", async () => {
    const r = await engine();
    const { Session } = await import('chdb');
    const session = new Session(r.deps.config.DATA_DIR);
    try {
      await expect(session.queryAsync(`${FAILS_AFTER_ROWS} FORMAT JSONEachRow`)).rejects.toThrow(/Code: 395/);
      const next = (await session.queryAsync(`${MINE} FORMAT JSONEachRow`)).text().split('\n').filter(Boolean);
      // How many of the failed statement's rows were formatted depends on its threads; they come first.
      expect(next.length).toBeGreaterThan(1000);
      expect(JSON.parse(next[0]!)).toEqual({ n: 0, t: 0 });
      expect(next.slice(0, -1).every((line) => 'n' in JSON.parse(line))).toBe(true);
      expect(JSON.parse(next.at(-1)!)).toEqual({ answer: 42 });
      // A statement that succeeded took it: the one after is clean.
      expect((await session.queryAsync(`${MINE} FORMAT JSONEachRow`)).text()).toBe('{"answer":42}\n');
    } finally {
      session.close();
    }
  });

  it('on every kind of connection: the API connection, a reader, the analyst connection, a job connection', async () => {
    const r = await engine();
    const clients: [string, ClickHouseClient][] = [
      ['db', r.deps.db.client],
      ['reader', r.connection.readClients[0]!],
      ['analyst', r.connection.analystClients[0]!],
      ['job', r.connection.jobDb().client],
    ];
    for (const [name, client] of clients) {
      await expect(rowsOf(client, FAILS_AFTER_ROWS), name).rejects.toThrow(/throwIf/);
      expect(await rowsOf(client, MINE), name).toEqual([{ answer: 42 }]);
      // Twice in a row, and a failure without output in between.
      await expect(rowsOf(client, FAILS_AFTER_ROWS), name).rejects.toThrow(/throwIf/);
      await expect(rowsOf(client, FAILS_AFTER_ROWS), name).rejects.toThrow(/throwIf/);
      await expect(rowsOf(client, 'SELECT nonsense_column'), name).rejects.toThrow(/nonsense_column/);
      expect(await rowsOf(client, MINE), name).toEqual([{ answer: 42 }]);
    }
  });

  it('on the identity lookups’ connection', async () => {
    const r = await engine();
    const lookup = r.deps.db.lookup!;
    await expect(lookup.select(FAILS_AFTER_ROWS)).rejects.toThrow(/throwIf/);
    expect(await lookup.select(MINE)).toBe('{"answer":42}\n');
  });

  it('when the next statement was sent before the failed one ended', async () => {
    const r = await engine();
    const client = r.connection.readClients[0]!;
    for (let i = 0; i < 5; i++) {
      const failing = rowsOf(client, FAILS_AFTER_ROWS);
      const next = rowsOf(client, MINE);
      await expect(failing).rejects.toThrow(/throwIf/);
      expect(await next).toEqual([{ answer: 42 }]);
    }
  });

  it("an analyst query stopped at its time limit after it wrote rows: another tenant's query waiting for the connection gets its own answer", async () => {
    const r = await engine();
    const a = await analystTenant();
    const b = await analystTenant();
    const patch = await r.app.request(`/v1/operator/tenants/${a.tenantId}`, {
      method: 'PATCH',
      headers: { authorization: `Bearer ${OPERATOR_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ limits: { sqlMaxExecutionSeconds: 1, sqlMaxRowsToRead: 1e12, sqlMaxBytesToRead: 1024 ** 5 } }),
    });
    expect(patch.status, await patch.text()).toBe(200);
    // One analyst connection (SQL_MAX_CONCURRENT=1 in tests): b's query waits for it and runs right after a's fails,
    // before a's history row is written (an insert, which would drop what a's query left).
    expect(r.connection.analystClients.length).toBe(1);
    // Rows trickle out (one in a million numbers) until the time limit stops the query.
    const trickle = 'SELECT number AS secret FROM numbers_mt(100000000000) WHERE cityHash64(number) % 1000000 = 0';
    for (const format of ['json', 'jsonl', 'csv'] as const) {
      const running = a.sql({ query: trickle, format });
      await waitFor("a's query to be admitted", () => r.deps.sql.inProgress(a.tenantId) === 1, 10_000);
      const answer = await b.sql({ query: 'SELECT 1 AS one' });
      expect(answer.status, JSON.stringify(answer.body)).toBe(200);
      expect(answer.body.data).toEqual([{ one: 1 }]);
      const refused = await running;
      expect(refused.status, JSON.stringify(refused.body)).toBe(422);
      expect(refused.body.error.details).toMatchObject({ limit: 'sqlMaxExecutionSeconds', value: 1 });
    }
  });
});
