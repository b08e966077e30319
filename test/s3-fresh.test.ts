import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { now, testClock } from './clock.js';
import { loadConfig } from '../api/config.js';
import { createLogger } from '../api/logger.js';
import { startRuntime, type Runtime } from '../api/runtime.js';
import { TABLES } from '../sql/names.js';
import { applyEventsRetention } from '../sql/retention.js';
import { pollUntil, testS3, type TestS3 } from './s3.js';
import { LONGEST_PERIOD_DAYS, tooOldMessage } from '../domain/retention.js';

/**
 * A data directory that starts with S3 configured, reaching the real S3
 * server through a TCP relay this test can cut: old events are written
 * straight to the s3 disk, raw retention deletes, and an S3 endpoint that is
 * down fails fast (at start, and for writes that need it) instead of hanging.
 */
const KEY = 'mh_s3_fresh_test_admin_key_0123456789ab';
const DAY = 86_400_000;
const nowMs = now();
let s3: TestS3;
const dirs: string[] = [];
let runtime: Runtime | undefined;

/** A TCP relay to the real endpoint; `cut()` closes it and every connection through it. */
async function relay(target: URL): Promise<{ endpoint: string; cut(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(Number(target.port), target.hostname);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => s.destroy());
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  return {
    endpoint: `http://127.0.0.1:${port}`,
    cut: () => new Promise<void>((r) => (server.close(() => r()), sockets.forEach((s) => s.destroy()))),
  };
}

async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'meterhouse-s3-'));
  dirs.push(d);
  return d;
}

const env = (dataDir: string, extra: Record<string, string>) => ({
  DATA_DIR: dataDir,
  METERHOUSE_API_KEY: KEY,
  LOG_LEVEL: 'silent',
  ENGINE_FSYNC: 'false',
  ENGINE_MAX_MEMORY_BYTES: String(2 * 1024 ** 3),
  ...s3.env,
  ...extra,
});

const start = (e: Record<string, string>) => startRuntime(loadConfig(e), createLogger('silent'), { clock: testClock });

async function call(method: string, path: string, body?: unknown): Promise<{ status: number; body: any; ms: number }> {
  const started = Date.now();
  const headers: Record<string, string> = { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' };
  const res = await runtime!.app.request(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: res.status, body: await res.json(), ms: Date.now() - started };
}

const event = (id: string, ageDays: number, quantity: string) => ({
  eventId: id,
  timestamp: nowMs - ageDays * DAY - 3_600_000,
  customerId: 'c',
  metricName: 'm',
  quantity,
});
const summary = async () => (await call('GET', `/v1/usage/summary?from=${nowMs - 300 * DAY + 60_000}&to=${nowMs + DAY}`)).body.data;

beforeAll(async () => {
  s3 = await testS3();
});

afterAll(async () => {
  await runtime?.close();
  for (const d of dirs) await rm(d, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
});

describe('a data directory that starts with S3', () => {
  it('writes expired parts straight to S3, keeps retention as one rule, and fails fast when S3 goes away', async () => {
    const dataDir = await tempDir();
    runtime = await start(env(dataDir, { RAW_RETENTION_DAYS: '300', BILLING_GRACE_SECONDS: '3600', BILLING_CUTOFF_LAG_MS: '0' }));
    const { db } = runtime.deps;
    expect((await call('POST', '/v1/meters', { key: 'm-sum', metricName: 'm', aggregation: 'SUM' })).status).toBe(201);
    // Accepted up to RAW_RETENTION_DAYS less the longest billing period (31 days) old: 269 days.
    const maxAgeDays = 300 - LONGEST_PERIOD_DAYS;
    const edge = { eventId: 'edge', timestamp: nowMs - maxAgeDays * DAY + 3_600_000, customerId: 'c', metricName: 'm', quantity: '7' };
    const sent = await call('POST', '/v1/events', [event('old', 400, '1000'), edge, event('cold', 100, '10.5'), event('hot', 0, '0.25')]);
    expect(sent.status).toBe(207);
    expect(sent.body).toMatchObject({ accepted: 3, rejected: 1 });
    expect(sent.body.results[0]).toEqual({
      index: 0,
      eventId: 'old',
      status: 'rejected',
      errors: [{ path: 'timestamp', message: tooOldMessage(maxAgeDays * DAY) }],
    });

    const parts = async (table: string = TABLES.usageEvents) =>
      await (
        await db.client.query({
          query: `SELECT disk_name AS disk, toUInt32(sum(rows)) AS rows FROM system.parts WHERE database = {d:String} AND table = {t:String} AND active GROUP BY disk ORDER BY disk`,
          query_params: { d: db.database, t: table },
          format: 'JSONEachRow',
        })
      ).json<{ disk: string; rows: number }>();
    // The 100- and 269-day-old events were past the move TTL when inserted: their parts went straight
    // to S3, in usage_events and in the billing log alike.
    expect(await parts()).toEqual([
      { disk: 'default', rows: 1 },
      { disk: 's3', rows: 2 },
    ]);
    expect(await parts(TABLES.usageEventLog)).toEqual([
      { disk: 'default', rows: 1 },
      { disk: 's3', rows: 2 },
    ]);
    expect(await summary()).toEqual([{ customerId: 'c', metricName: 'm', quantity: '17.75', events: 3 }]);
    // Billing exports the closed periods of the two old events (the current one is open).
    const first = await call('POST', '/v1/billing/close');
    expect(first.body.data.map((e: any) => e.sequence)).toEqual([1]);

    // A shorter raw retention (restart with RAW_RETENTION_DAYS=50) deletes what is now past it, in both tables.
    await runtime.close();
    runtime = await start(env(dataDir, { RAW_RETENTION_DAYS: '50', BILLING_GRACE_SECONDS: '3600', BILLING_CUTOFF_LAG_MS: '0' }));
    const rows = async (table: string) =>
      (
        await (
          await runtime!.deps.db.client.query({
            query: `SELECT event_id FROM ${runtime!.deps.db.database}.${table} ORDER BY event_id`,
            format: 'JSONEachRow',
          })
        ).json<{ event_id: string }>()
      ).map((r) => r.event_id);
    await pollUntil(
      'retention to delete the old events from usage_events, the billing log and the identities the writer looks up',
      async () => [await rows(TABLES.usageEvents), await rows(TABLES.usageEventLog), await rows(TABLES.usageEventIds)],
      ([a, b, c]) => a!.length === 1 && b!.length === 1 && c!.length === 1,
    );
    expect(await rows(TABLES.usageEventLog)).toEqual(['hot']);
    expect(await rows(TABLES.usageEventIds)).toEqual(['hot']);

    // Every window still retained agrees: summary, meter (day rollup, which retention does not delete), events.
    const since = nowMs - 50 * DAY;
    const window = `from=${since + 60_000}&to=${nowMs + DAY}`;
    expect((await call('GET', `/v1/usage/summary?${window}`)).body.data).toEqual([{ customerId: 'c', metricName: 'm', quantity: '0.25', events: 1 }]);
    expect((await call('GET', `/v1/meters/m-sum/usage?${window}&granularity=total`)).body.data.map((w: any) => w.value)).toEqual(['0.25']);
    expect((await call('GET', `/v1/events?${window}`)).body.data.map((e: any) => e.eventId)).toEqual(['hot']);
    // A window reaching past retention is refused, naming the limit, by every read: never a partial number.
    for (const path of ['/v1/usage/summary', '/v1/meters/m-sum/usage', '/v1/events']) {
      const past = await call('GET', `${path}?from=${nowMs - 120 * DAY}&to=${nowMs + DAY}`);
      expect(past.status, path).toBe(422);
      expect(past.body.error.code).toBe('beyond_retention');
      expect(Date.parse(past.body.error.details.retainedSince)).toBeGreaterThan(nowMs - 51 * DAY);
    }
    // Deletion by retention is not a correction: the next close exports nothing.
    expect((await call('POST', '/v1/billing/close')).body.data).toEqual([]);

    // Only raw events, the billing log, the events' identities and rollups ever expire: no other table (exports among them) carries a TTL.
    const withTtl = (
      await (
        await runtime.deps.db.client.query({
          query: `SELECT name FROM system.tables WHERE database = {d:String} AND match(create_table_query, ' TTL ') ORDER BY name`,
          query_params: { d: runtime.deps.db.database },
          format: 'JSONEachRow',
        })
      ).json<{ name: string }>()
    ).map((r) => r.name);
    expect(withTtl).toEqual([TABLES.usageEventIds, TABLES.usageEventLog, TABLES.usageEvents, TABLES.usagePerHour, TABLES.usagePerMinute].sort());
    // Applied only when the configuration changes.
    expect(await applyEventsRetention(runtime.deps.db, { hotDays: 30, rawDays: 50, clockOffsetMs: testClock.offsetMs })).toEqual([]);
    await runtime.close();

    // S3 behind a relay this test cuts (a data directory of its own: the engine keeps the endpoint it opened with).
    const link = await relay(new URL(s3.env.S3_ENDPOINT!));
    runtime = await start(env(await tempDir(), { S3_ENDPOINT: link.endpoint, HOT_RETENTION_DAYS: '5' }));
    await link.cut();
    // Recent events stay on the local disk: ingest goes on while S3 is down.
    expect((await call('POST', '/v1/events', [event('hot-2', 0, '1')])).body.accepted).toBe(1);
    // An event past the 5 hot days needs S3: the request fails within seconds, not after 500 retries, and nothing is acknowledged.
    const failed = await call('POST', '/v1/events', [event('cold-2', 15, '1')]);
    expect(failed.status).toBe(503);
    expect(failed.body.error.code).toBe('storage_unavailable');
    expect(failed.ms).toBeLessThan(15_000);
    const closing = Date.now();
    await runtime.close();
    runtime = undefined;
    const closeMs = Date.now() - closing;
    console.log(`with S3 down: a write needing S3 failed in ${failed.ms} ms; the engine closed in ${closeMs} ms`);
    expect(closeMs).toBeLessThan(15_000);
  }, 120_000);
});

describe('an S3 endpoint that cannot be used stops the start at once, saying why', () => {
  const startFails = async (extra: Record<string, string>) => {
    const started = Date.now();
    const error = await start(env(await tempDir(), extra)).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(error, 'the start should have failed').toBeInstanceOf(Error);
    return { message: error!.message, ms: Date.now() - started };
  };

  it('refuses a closed port, an endpoint that never answers, bad credentials and a missing bucket', async () => {
    const closed = await relay(new URL(s3.env.S3_ENDPOINT!));
    await closed.cut();
    const refused = await startFails({ S3_ENDPOINT: closed.endpoint });
    expect(refused.message).toMatch(/^Cannot use S3 for tiered storage: S3 endpoint http:\/\/127\.0\.0\.1:\d+ is not reachable: .*ECONNREFUSED/);
    expect(refused.ms).toBeLessThan(3000);

    const silent = createServer(() => {});
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const hung = await startFails({ S3_ENDPOINT: `http://127.0.0.1:${(silent.address() as { port: number }).port}`, S3_CONNECT_TIMEOUT_MS: '500' });
    silent.close();
    expect(hung.message).toMatch(/is not reachable: no answer within 500 ms/);
    expect(hung.ms).toBeLessThan(3000);

    const secret = 'wrong-secret-that-must-not-leak';
    const denied = await startFails({ S3_SECRET_ACCESS_KEY: secret });
    expect(denied.message).toMatch(/access denied for access key .*check S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY and S3_REGION/);
    expect(denied.message).not.toContain(secret);

    expect((await startFails({ S3_BUCKET: 'no-such-bucket-here' })).message).toMatch(/bucket "no-such-bucket-here" at .* does not exist/);
  });

  it('makes meterhouse exit with the reason instead of hanging', async () => {
    const closed = await relay(new URL(s3.env.S3_ENDPOINT!));
    await closed.cut();
    const started = Date.now();
    const child = spawn(process.execPath, ['--import', 'tsx', 'api/main.ts'], {
      cwd: join(import.meta.dirname, '..'),
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '',
        PORT: '0',
        HOST: '127.0.0.1',
        ...env(await tempDir(), { S3_ENDPOINT: closed.endpoint }),
        LOG_LEVEL: 'fatal',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (b) => (output += b));
    child.stderr.on('data', (b) => (output += b));
    const code = await new Promise<number | null>((r) => child.on('exit', r));
    expect(code).toBe(1);
    expect(output).toMatch(/meterhouse: cannot start: Cannot use S3 for tiered storage: S3 endpoint .* is not reachable/);
    expect(output).not.toContain(s3.env.S3_SECRET_ACCESS_KEY!);
    expect(Date.now() - started).toBeLessThan(20_000);
  });
});
