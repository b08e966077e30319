import type { ClickHouseClient } from '@clickhouse/client';
import { describe, expect, it } from 'vitest';
import { engine } from './harness.js';

const json = async (client: ClickHouseClient, query: string, query_params: Record<string, unknown>) =>
  (await (await client.query({ query, query_params, format: 'JSONEachRow' })).json()) as Record<string, unknown>[];

const NASTY = [
  '',
  "it's",
  'back\\slash',
  "\\'; DROP TABLE meterhouse.usage_events; --",
  "'); SELECT 1; --",
  'tab\tnew\nline\rreturn',
  'nul\u0000byte and \u001f and \u007f',
  '\\N',
  'Zürich 東京 🙂',
  '{x:String}',
];

/**
 * Our own connections on the embedded engine set a statement's bound values as
 * the connection's query parameters (sql/session-parameters.ts) instead of
 * chdb's binding, which runs every parameterized statement of the process one
 * at a time. The values must mean exactly what they mean through chdb's binding.
 */
describe('bound parameters on our own embedded connections', () => {
  it('binds every value exactly as chdb does: strings of any bytes, arrays, 64-bit integers, null', async () => {
    const r = await engine();
    const own = r.connection.readClients[0]!;
    const chdbBinding = r.connection.analystClients[0]!; // analyst connections keep chdb's own binding
    const query = `SELECT {s:String} AS s, {xs:Array(String)} AS xs, {big:Int64} AS big, {ubig:UInt64} AS ubig, {n:Nullable(String)} AS n,
      {ns:Array(Int64)} AS ns, {f:Array(Float64)} AS f, {b:Bool} AS b, {u:UInt32} AS u`;
    for (const s of NASTY) {
      const params = {
        s,
        xs: NASTY,
        big: '-9223372036854775808',
        ubig: '18446744073709551615',
        n: null,
        ns: [-9007199254740991, 0, 9007199254740991],
        f: [0.1, -2.5e-7],
        b: true,
        u: 4294967295,
      };
      const [mine] = await json(own, query, params);
      const [theirs] = await json(chdbBinding, query, params);
      expect(mine).toEqual(theirs);
      expect(mine!.s).toBe(s);
      expect(mine!.xs).toEqual(NASTY);
      expect(mine!.n).toBeNull();
    }
    // Nothing a value held ran as SQL.
    const [{ n }] = (await json(r.deps.db.client, `SELECT count() AS n FROM system.tables WHERE database = {db:String} AND name = 'usage_events'`, {
      db: r.deps.db.database,
    })) as [{ n: string }];
    expect(Number(n)).toBe(1);
  });

  it('binds a value longer than the engine parses in one query by default (256 KiB): 50,000 ids', async () => {
    const r = await engine();
    const ids = Array.from({ length: 50_000 }, (_, i) => `event-id-${String(i).padStart(20, '0')}`);
    const query = 'SELECT length({ids:Array(String)}) AS n, {ids:Array(String)}[50000] AS last, {t:String} AS t';
    const [mine] = await json(r.deps.db.client, query, { ids, t: 'tenant-a' });
    expect(mine).toEqual({ n: '50000', last: ids.at(-1), t: 'tenant-a' });
    // The raised limit is only what that statement needed, and later statements on the connection still work.
    expect(await json(r.deps.db.client, 'SELECT {x:UInt8} AS x', { x: 7 })).toEqual([{ x: 7 }]);
    // Values each under the default but together over it (they are set in one statement).
    const half = Array.from({ length: 10_000 }, (_, i) => `id-${String(i).padStart(12, '0')}`);
    const other = half.map((id) => `${id}-b`);
    const [both] = await json(r.deps.db.client, 'SELECT length({a:Array(String)}) + length({b:Array(String)}) AS n, {b:Array(String)}[10000] AS last', {
      a: half,
      b: other,
    });
    expect(both).toEqual({ n: '20000', last: other.at(-1) });
  });

  it('each of many statements at once, on one connection and on several, sees its own values', async () => {
    const r = await engine();
    const clients = [r.deps.db.client, ...r.connection.readClients, r.connection.jobDb().client, r.connection.jobDb().client];
    const asked: Promise<void>[] = [];
    for (let i = 0; i < 200; i++) {
      const client = clients[i % clients.length]!;
      asked.push(
        json(client, 'SELECT {who:String} AS who, {n:UInt32} * 2 AS twice, sum(number) AS s FROM numbers(5000)', { who: `caller-${i}'`, n: i }).then(
          ([row]) => {
            expect(row).toEqual({ who: `caller-${i}'`, twice: String(i * 2), s: '12497500' });
          },
        ),
      );
    }
    await Promise.all(asked);
  });

  it('refuses a statement whose placeholder has no value in it, even when an earlier statement left one on the connection', async () => {
    const r = await engine();
    const client = r.connection.jobDb().client;
    expect(await json(client, 'SELECT {tenant:String} AS t', { tenant: 'tenant-a' })).toEqual([{ t: 'tenant-a' }]);
    await expect(json(client, 'SELECT {tenant:String} AS t, {other:String} AS o', { other: 'x' })).rejects.toThrow('query parameter tenant has no value');
  });

  it.each([
    ['an API read', 'readClients'],
    ['an analyst query (chdb binding)', 'analystClients'],
  ] as const)(
    'a parameterized statement is answered while %s with bound parameters runs on another connection',
    async (_, kind) => {
      const r = await engine();
      const SLOW_SECONDS = 4;
      let slowEnded: number | undefined;
      const started = performance.now();
      const slow = json(r.connection[kind][0]!, 'SELECT sum(sleepEachRow({pause:Float64})) AS s FROM numbers({rows:UInt32}) SETTINGS max_block_size = 1', {
        pause: 0.1,
        rows: SLOW_SECONDS * 10,
      }).then(() => (slowEnded = performance.now()));
      await new Promise((resolve) => setTimeout(resolve, 300));
      const t0 = performance.now();
      expect(await json(r.deps.db.client, 'SELECT {v:String} AS v', { v: 'beside' })).toEqual([{ v: 'beside' }]);
      const ms = performance.now() - t0;
      expect(slowEnded).toBeUndefined(); // answered before the long read ended...
      expect(ms).toBeLessThan((SLOW_SECONDS * 1000) / 2); // ...and well before it
      await slow;
      expect(slowEnded! - started).toBeGreaterThan(SLOW_SECONDS * 1000 * 0.9);
    },
    30_000,
  );
});
