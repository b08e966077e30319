import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../api/config.js';
import { createLogger } from '../api/logger.js';
import { startRuntime, type Runtime } from '../api/runtime.js';
import { TABLES } from '../sql/names.js';
import { applyEventsRetention } from '../sql/retention.js';
import { pollUntil, testS3, type TestS3 } from './s3.js';

/**
 * A data directory that starts with S3 configured, reaching the real S3
 * server through a TCP relay this test can cut: old events are written
 * straight to the s3 disk, raw retention deletes, and an S3 endpoint that is
 * down fails fast (at start, and for writes that need it) instead of hanging.
 */
const KEY = 'mh_s3_fresh_test_admin_key_0123456789ab';
const DAY = 86_400_000;
const now = Date.now();
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
  DATA_DIR: dataDir, METERHOUSE_API_KEY: KEY, LOG_LEVEL: 'silent', ENGINE_FSYNC: 'false', ENGINE_MAX_MEMORY_BYTES: String(2 * 1024 ** 3), ...s3.env, ...extra,
});

const start = (e: Record<string, string>) => startRuntime(loadConfig(e), createLogger('silent'));

async function call(method: string, path: string, body?: unknown): Promise<{ status: number; body: any; ms: number }> {
  const started = Date.now();
  const headers: Record<string, string> = { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' };
  const res = await runtime!.app.request(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: res.status, body: await res.json(), ms: Date.now() - started };
}

const event = (id: string, ageDays: number, quantity: string) => ({ eventId: id, timestamp: now - ageDays * DAY - 3_600_000, customerId: 'c', metricName: 'm', quantity });
const summary = async () => (await call('GET', `/v1/usage/summary?from=${now - 500 * DAY}&to=${now + DAY}`)).body.data;

beforeAll(async () => {
  s3 = await testS3();
});

afterAll(async () => {
  await runtime?.close();
  for (const d of dirs) await rm(d, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
});

describe('a data directory that starts with S3', () => {
  it('writes expired parts straight to S3, deletes past RAW_RETENTION_DAYS, and fails fast when S3 goes away', async () => {
    const link = await relay(new URL(s3.env.S3_ENDPOINT!));
    runtime = await start(env(await tempDir(), { S3_ENDPOINT: link.endpoint, RAW_RETENTION_DAYS: '300' }));
    const { db } = runtime.deps;
    const sent = await call('POST', '/v1/events', [event('old', 400, '1000'), event('cold', 100, '10.5'), event('hot', 0, '0.25')]);
    expect(sent.body.accepted).toBe(3);

    const parts = async () => (await (await db.client.query({
      query: `SELECT disk_name AS disk, toUInt32(sum(rows)) AS rows FROM system.parts WHERE database = {d:String} AND table = {t:String} AND active GROUP BY disk ORDER BY disk`,
      query_params: { d: db.database, t: TABLES.usageEvents }, format: 'JSONEachRow',
    })).json<{ disk: string; rows: number }>());
    // The 100-day-old event was past the move TTL when inserted: its part went straight to S3. The
    // 400-day-old one was past RAW_RETENTION_DAYS: ClickHouse drops expired rows at insert.
    expect(await parts()).toEqual([{ disk: 'default', rows: 1 }, { disk: 's3', rows: 1 }]);
    expect(await summary()).toEqual([{ customerId: 'c', metricName: 'm', quantity: '10.75', events: 2 }]);

    // Applied only when the configuration changes; a shorter raw retention deletes what is now past it.
    expect(await applyEventsRetention(db, { hotDays: 30, rawDays: 300 })).toEqual([]);
    expect(await applyEventsRetention(db, { hotDays: 30, rawDays: 50 })).toEqual(['ttl']);
    expect(await applyEventsRetention(db, { hotDays: 30, rawDays: 50 })).toEqual([]);
    const { value } = await pollUntil('the 100-day-old event to be deleted', summary, (rows) => rows[0]?.events === 1);
    expect(value).toEqual([{ customerId: 'c', metricName: 'm', quantity: '0.25', events: 1 }]);

    // Only raw events and rollups ever expire: no other table (exports among them) carries a TTL.
    const withTtl = (await (await db.client.query({
      query: `SELECT name FROM system.tables WHERE database = {d:String} AND match(create_table_query, ' TTL ') ORDER BY name`,
      query_params: { d: db.database }, format: 'JSONEachRow',
    })).json<{ name: string }>()).map((r) => r.name);
    expect(withTtl).toEqual([TABLES.usageEvents, TABLES.usagePerHour, TABLES.usagePerMinute].sort());

    await link.cut();
    // Recent events stay on the local disk: ingest goes on while S3 is down.
    expect((await call('POST', '/v1/events', [event('hot-2', 0, '1')])).body.accepted).toBe(1);
    // An old event needs S3: the request fails within seconds, not after 500 retries, and nothing is acknowledged.
    const failed = await call('POST', '/v1/events', [event('cold-2', 100, '1')]);
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
    const error = await start(env(await tempDir(), extra)).then(() => undefined, (e: Error) => e);
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
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', PORT: '0', HOST: '127.0.0.1', ...env(await tempDir(), { S3_ENDPOINT: closed.endpoint }), LOG_LEVEL: 'fatal' },
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
