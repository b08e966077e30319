import type { ClickHouseClient } from '@clickhouse/client';
import { afterEach, describe, expect, it } from 'vitest';
import { engine, newTenant } from './harness.js';
import { now } from './clock.js';
import { recordStatements } from './record-statements.js';

let stopRecording: (() => void) | undefined;
afterEach(() => stopRecording?.());

/**
 * The embedded engine runs one statement at a time per connection. A job's
 * statements on the connection that API requests use for their own
 * statements (a meter's definition, a key) held those requests for as long
 * as the job ran: a meter read after a 10M backfill waited 87.5 s behind the
 * close job and the reconciler's first pass, far past its 20 s limit.
 */
describe('scheduled jobs beside API requests', () => {
  it("every job's statements run on a connection of their own, none on the requests' or the reads'", async () => {
    const r = await engine({ BILLING_CUTOFF_LAG_MS: '0' });
    const t = await newTenant();
    // Events 40 days old in a billable meter: the close run computes and writes an export (its longest statements).
    const at = now() - 40 * 86_400_000;
    const events = [1, 2, 3].map((n) => ({ eventId: `jobs-apart-${n}`, customerId: 'c1', metricName: 'api.calls', timestamp: at + n, quantity: '2' }));
    expect((await t.request('POST', '/v1/events', { body: events })).status).toBe(200);
    expect((await t.request('POST', '/v1/meters', { body: { key: 'calls', metricName: 'api.calls', aggregation: 'SUM' } })).status).toBe(201);
    const stored = Date.now();
    while (Date.now() <= stored) await new Promise((resolve) => setTimeout(resolve, 1)); // the cutoff (engine time) passes the events

    const recorded = recordStatements(r.deps.db.client);
    stopRecording = recorded.stop;
    for (const job of r.jobs) await job.run();
    // A request's own statement, recorded the same way: the recorder sees the requests' connection.
    expect((await t.request('GET', '/v1/meters/calls')).status).toBe(200);
    const beforeScrape = recorded.list.length;
    // A Prometheus scrape reads the engine too (freshness, parts, backlogs).
    expect((await r.app.request('/metrics')).status).toBe(200);
    recorded.stop();
    const scrape = recorded.list.splice(beforeScrape);

    const byJob = new Map(r.jobs.map((job) => [job.name, new Set<ClickHouseClient>()]));
    const prefixes: Record<string, string[]> = {
      'rollups.reconcile': ['rollups.reconcile.'],
      'billing.close': ['billing.', 'exports.'],
      'alerts.sweep': ['alerts.'],
      'rollups.compact': ['rollups.compact.'],
    };
    const requestConnections = new Set([r.deps.db.client, ...r.connection.readClients]);
    const named = (prefix: string[]) => recorded.list.filter((s) => prefix.some((p) => s.name.startsWith(p)));
    for (const job of r.jobs) {
      const statements = named(prefixes[job.name]!);
      expect(statements.length, `${job.name} issued statements`).toBeGreaterThan(0);
      for (const s of statements) {
        expect(requestConnections.has(s.client), `${s.name} of ${job.name} ran on a request connection`).toBe(false);
        byJob.get(job.name)!.add(s.client);
      }
    }
    expect(named(['billing.meter_values']).length).toBeGreaterThan(0); // the close run computed lines
    expect(scrape.filter((s) => s.name.startsWith('metrics.')).length).toBeGreaterThan(0);
    for (const s of scrape) expect(requestConnections.has(s.client), `${s.name} of a scrape ran on a request connection`).toBe(false);
    // One connection per job: a long statement of one job does not hold another either.
    const clients = [...byJob.values()].flatMap((set) => [...set]);
    expect(new Set(clients).size).toBe(r.jobs.length);
    expect(recorded.list.filter((s) => s.name === 'meters.get' && s.client === r.deps.db.client).length).toBeGreaterThan(0);
  }, 60_000);

  it("a meter read is answered while a statement runs on a job's connection", async () => {
    const r = await engine();
    const t = await newTenant();
    const at = now();
    expect(
      (await t.request('POST', '/v1/events', { body: { eventId: 'jobs-apart-read', customerId: 'c1', metricName: 'api.calls', timestamp: at } })).status,
    ).toBe(200);
    expect((await t.request('POST', '/v1/meters', { body: { key: 'calls', metricName: 'api.calls', aggregation: 'SUM' } })).status).toBe(201);
    const job = r.connection.jobDb();
    const SLOW_SECONDS = 4;
    let slowEnded: number | undefined;
    const started = performance.now();
    // No bound parameters: chdb runs those one at a time per process, whatever the connection.
    const slow = job.client
      .query({ query: `SELECT sum(sleepEachRow(0.1)) AS s FROM numbers(${SLOW_SECONDS * 10}) SETTINGS max_block_size = 1`, format: 'JSONEachRow' })
      .then((res) => res.json())
      .then(() => (slowEnded = performance.now()));
    await new Promise((resolve) => setTimeout(resolve, 300));
    const t0 = performance.now();
    const res = await t.request('GET', `/v1/meters/calls/usage?customerId=c1&from=${at - 3_600_000}&to=${at + 3_600_000}&granularity=hour`);
    const readMs = performance.now() - t0;
    expect(res.status).toBe(200);
    expect(slowEnded).toBeUndefined(); // answered before the job's statement ended...
    expect(readMs).toBeLessThan((SLOW_SECONDS * 1000) / 2); // ...and well before it
    await slow;
    expect(slowEnded! - started).toBeGreaterThan(SLOW_SECONDS * 1000 * 0.9);
  }, 30_000);
});
