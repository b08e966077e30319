import { describe, expect, it } from 'vitest';
import { engine, newTenant } from './harness.js';
import { recordStatements, type RecordedStatement } from './record-statements.js';
import { waitFor } from './wait.js';
import { now } from './clock.js';
import { staleWindows, touchedWindowCount } from '../sql/queries/reconcile.js';
import { rewriteWindows } from '../sql/queries/reconcile-rewrite.js';
import { TABLES } from '../sql/names.js';

/** What a step waited on (printed so a failure says it): each statement, whether it had bound parameters, how long it took. */
const waitedOn = (list: RecordedStatement[]) => JSON.stringify(list.map(({ name, params, ms }) => ({ name, bound: Object.keys(params).length > 0, ms })));

const SLOW_MARK = 'slow_parameterized_read_marker';
const SLOW_SECONDS = 4;

type TestRuntime = Awaited<ReturnType<typeof engine>>;

/** A parameterized read of SLOW_SECONDS on a read client, once the engine runs it; `ended()` is when it did, if it has. */
async function startSlowRead(r: TestRuntime) {
  const reader = r.connection.readClients[0]!;
  let slowEnded: number | undefined;
  const started = performance.now();
  const slow = reader
    .query({
      query: `SELECT '${SLOW_MARK}' AS mark, sum(sleepEachRow({pause:Float64})) AS s FROM numbers({rows:UInt32}) SETTINGS max_block_size = 1`,
      query_params: { pause: 0.1, rows: SLOW_SECONDS * 10 },
      format: 'JSONEachRow',
    })
    .then((res) => res.json())
    .then(() => (slowEnded = performance.now()));
  // Until the engine runs it.
  await waitFor(
    'the slow read to run',
    async () => {
      const res = await r.deps.db.client.query({
        query: `SELECT count() AS n FROM system.processes WHERE query LIKE '%${SLOW_MARK}%' AND query NOT LIKE '%system.processes%'`,
        format: 'JSONEachRow',
      });
      const [row] = (await res.json()) as { n: string | number }[];
      return Number(row?.n) > 0;
    },
    10_000,
  );
  return {
    ended: () => slowEnded,
    /** Waits for the read, and checks it really was long. */
    async finish() {
      await slow;
      expect(slowEnded! - started).toBeGreaterThan(SLOW_SECONDS * 1000 * 0.9);
    },
  };
}

/**
 * chdb's own parameter binding runs statements with bound parameters one at a
 * time per process, so a long parameterized read (an API read) held every other
 * parameterized statement until it ended. meterhouse's connections bind values
 * per connection (sql/session-parameters.ts): nothing on the ingest path, and
 * none of the reconciler's statements (its comparison reads every touched hour
 * with FINAL: the whole table after a backfill), waits for such a read.
 */
describe('ingest beside a long parameterized read', () => {
  it('a request with a key and tenant this process has never seen is answered while the read still runs', async () => {
    const r = await engine();
    const t = await newTenant(); // written straight to the engine: neither its key nor its tenant is cached here
    const slow = await startSlowRead(r);
    const statements = recordStatements(r.deps.db.client);
    const t0 = performance.now();
    const res = await t.request('POST', '/v1/events', { body: { eventId: 'beside-slow-1', customerId: 'c1', metricName: 'api.calls', timestamp: now() } });
    const ingestMs = performance.now() - t0;
    statements.stop();
    console.log(`ingest ${ingestMs.toFixed(0)} ms:`, waitedOn(statements.list));
    expect(res.status).toBe(200);
    expect(slow.ended()).toBeUndefined(); // answered before the read ended...
    expect(ingestMs).toBeLessThan((SLOW_SECONDS * 1000) / 2); // ...and well before it
    await slow.finish();
  }, 30_000);

  it("the reconciler's comparison runs while the read still runs, so reads never wait for it", async () => {
    const r = await engine();
    const t = await newTenant();
    expect(
      (await t.request('POST', '/v1/events', { body: { eventId: 'beside-slow-2', customerId: 'c1', metricName: 'api.calls', timestamp: now() } })).status,
    ).toBe(200);
    const slow = await startSlowRead(r);
    const statements = recordStatements(r.deps.db.client);
    const t0 = performance.now();
    const span = { sinceMs: 0, settle: { beforeMs: Date.now() + 60_000, liveFromMs: 0 } };
    const [counts, stale] = await Promise.all([touchedWindowCount(r.deps.db, span), staleWindows(r.deps.db, span)]);
    const ms = performance.now() - t0;
    statements.stop();
    console.log(`reconcile comparison ${ms.toFixed(0)} ms:`, waitedOn(statements.list));
    expect(counts.checked).toBeGreaterThanOrEqual(1); // it compared the hour just written
    expect(stale).toEqual([]);
    expect(statements.list.map((s) => s.name)).toEqual(expect.arrayContaining(['rollups.reconcile.touched', 'rollups.reconcile.stale']));
    expect(slow.ended()).toBeUndefined();
    expect(ms).toBeLessThan((SLOW_SECONDS * 1000) / 2);
    await slow.finish();
  }, 30_000);

  it("the reconciler's rewrite of a window runs while the read still runs, and leaves the window exact", async () => {
    const r = await engine();
    const t = await newTenant();
    const hourMs = Math.floor(now() / 3_600_000) * 3_600_000;
    const events = [1, 2].map((n) => ({
      eventId: `beside-slow-rw-${n}`,
      customerId: 'c1',
      metricName: 'api.calls',
      timestamp: hourMs + n,
      quantity: `${n}.5`,
    }));
    expect((await t.request('POST', '/v1/events', { body: events })).status).toBe(200);
    const slow = await startSlowRead(r);
    const statements = recordStatements(r.deps.db.client);
    const t0 = performance.now();
    await rewriteWindows(r.deps.db, [{ tenantId: t.tenantId, metricName: 'api.calls', hourMs, eventsDifference: 0 }]);
    const ms = performance.now() - t0;
    statements.stop();
    console.log(`reconcile rewrite ${ms.toFixed(0)} ms:`, waitedOn(statements.list));
    expect(statements.list.map((s) => s.name)).toEqual(expect.arrayContaining(['rollups.reconcile.delete_hour', 'rollups.reconcile.insert_day']));
    expect(slow.ended()).toBeUndefined();
    expect(ms).toBeLessThan((SLOW_SECONDS * 1000) / 2);
    await slow.finish();
    // Every tier holds the window's two events again, once.
    const { db } = r.deps;
    for (const table of [TABLES.usagePerMinute, TABLES.usagePerHour, TABLES.usagePerDay]) {
      const res = await db.client.query({
        query: `SELECT sum(events) AS n, toString(sum(quantity_sum)) AS q FROM ${db.database}.${table} WHERE tenant_id = {t:String}`,
        query_params: { t: t.tenantId },
        format: 'JSONEachRow',
      });
      expect(await res.json(), table).toEqual([{ n: '2', q: '4' }]);
    }
  }, 30_000);
});
