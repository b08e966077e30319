import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { now, testClock } from './clock.js';
import { loadConfig } from '../api/config.js';
import { createLogger } from '../api/logger.js';
import { startRuntime, type Runtime } from '../api/runtime.js';
import { reconcileRollups } from '../jobs/reconcile-rollups.js';
import { TABLES } from '../sql/names.js';
import { insertRows } from '../sql/query.js';
import { applyEventsRetention } from '../sql/retention.js';
import { listObjects } from '../sql/s3/client.js';
import { partsPrefix } from '../sql/tiering.js';
import { pollUntil, testS3, type TestS3 } from './s3.js';

/**
 * An existing data directory (default storage policy, events already stored)
 * is restarted with S3 configured: usage_events switches to the hot/cold
 * policy and its old partitions move to the real S3 server, with every number
 * the API shows unchanged, before and after the move and across restarts.
 */
const KEY = 'mh_s3_tiering_test_admin_key_0123456789';
const DAY = 86_400_000;
const nowMs = now();
let s3: TestS3;
let dataDir: string;
let runtime: Runtime | undefined;

const OP_KEY = 'mho_s3_tiering_operator_key_0123456789ab';
const baseEnv = () => ({
  DATA_DIR: dataDir,
  METERHOUSE_API_KEY: KEY,
  METERHOUSE_OPERATOR_KEY: OP_KEY,
  LOG_LEVEL: 'silent',
  ENGINE_FSYNC: 'false',
  ENGINE_MAX_MEMORY_BYTES: String(2 * 1024 ** 3),
});

async function open(env: Record<string, string>): Promise<Runtime> {
  await runtime?.close();
  runtime = undefined;
  const config = loadConfig(env);
  runtime = await startRuntime(config, createLogger(config.LOG_LEVEL), { clock: testClock });
  return runtime;
}

async function call(method: string, path: string, body?: unknown, key = KEY): Promise<{ status: number; body: any }> {
  const headers: Record<string, string> = { authorization: `Bearer ${key}` };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await runtime!.app.request(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: res.status, body: await res.json() };
}

const WINDOW = `from=${nowMs - 500 * DAY}&to=${nowMs + DAY}`;

/** Every number the API gives for this data: exact summary, event listing, a rollup meter and a raw-event meter. */
async function numbers() {
  const summary = await call('GET', `/v1/usage/summary?${WINDOW}`);
  const listed = await call('GET', `/v1/events?${WINDOW}&limit=1000`);
  const sum = await call('GET', `/v1/meters/calls-sum/usage?${WINDOW}&granularity=month&groupBy=customerId`);
  const p90 = await call('GET', `/v1/meters/calls-p90/usage?${WINDOW}&granularity=month`);
  for (const r of [summary, listed, sum, p90]) expect(r.status).toBe(200);
  return { summary: summary.body.data, events: listed.body.data, sum: sum.body.data, p90: p90.body.data };
}

async function partsOnDisks(): Promise<{ partition: string; disk: string; rows: number }[]> {
  const { db } = runtime!.deps;
  const result = await db.client.query({
    query: `SELECT partition, disk_name AS disk, toUInt32(sum(rows)) AS rows FROM system.parts
            WHERE database = {d:String} AND table = {t:String} AND active GROUP BY partition, disk ORDER BY partition, disk`,
    query_params: { d: db.database, t: TABLES.usageEvents },
    format: 'JSONEachRow',
  });
  return result.json();
}

const yyyymm = (ms: number) => new Date(ms).toISOString().slice(0, 7).replace('-', '');
// Events three times far past the 30-day hot window, and in the last two hours.
const AGES_DAYS = [400, 200, 90];

function events() {
  const out = [];
  for (const [i, age] of [...AGES_DAYS, 0].entries()) {
    for (let n = 0; n < 50; n++) {
      out.push({
        eventId: `e-${i}-${n}`,
        timestamp: nowMs - age * DAY - 3_600_000 - n * 1000,
        customerId: `c-${n % 3}`,
        metricName: 'api.calls',
        quantity: `${n}.${i}5`,
      });
    }
  }
  return out;
}

// Expected partitions come from the very timestamps sent (an event an hour before 00:30 on the
// 1st is in the previous month's partition): old ones on S3, recent ones hot, with their counts.
const monthsOf = (age: (days: number) => boolean) => {
  const counts = new Map<string, number>();
  for (const e of events()) if (age((nowMs - e.timestamp) / DAY)) counts.set(yyyymm(e.timestamp), (counts.get(yyyymm(e.timestamp)) ?? 0) + 1);
  return counts;
};
const OLD = new Set(monthsOf((days) => days > 30).keys());
const RECENT = monthsOf((days) => days < 1);

beforeAll(async () => {
  s3 = await testS3();
  dataDir = await mkdtemp(join(tmpdir(), 'meterhouse-s3-'));
});

afterAll(async () => {
  await runtime?.close();
  await rm(dataDir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
});

describe('tiered storage on S3', () => {
  let before: Awaited<ReturnType<typeof numbers>>;

  it('stores events locally while S3 is not configured', async () => {
    await open(baseEnv());
    expect((await call('POST', '/v1/meters', { key: 'calls-sum', metricName: 'api.calls', aggregation: 'SUM' })).status).toBe(201);
    expect((await call('POST', '/v1/meters', { key: 'calls-p90', metricName: 'api.calls', aggregation: 'P90' })).status).toBe(201);
    const sent = await call('POST', '/v1/events', events());
    expect(sent.body).toMatchObject({ accepted: 200, duplicates: 0, rejected: 0 });
    before = await numbers();
    expect(before.events).toHaveLength(200);
    expect(before.summary.reduce((n: number, r: any) => n + r.events, 0)).toBe(200);
    expect(new Set((await partsOnDisks()).map((p) => p.disk))).toEqual(new Set(['default']));
    const storage = await call('GET', '/v1/operator/storage', undefined, OP_KEY);
    expect(storage.body.usageEvents).toMatchObject({ storagePolicy: 'default', hotRetentionDays: null, rawRetentionDays: null });
    // A server without the policy (here: the engine without S3) is named as the problem.
    await expect(applyEventsRetention(runtime!.deps.db, { hotDays: 30 })).rejects.toThrow(/ClickHouse has no storage policy "tiered" with a volume "cold"/);
  });

  it('moves old partitions to the s3 disk once S3 is configured, with every number unchanged', async () => {
    await open({ ...baseEnv(), ...s3.env });
    const { value: parts, ms } = await pollUntil('old partitions to move to the s3 disk', partsOnDisks, (ps) =>
      ps.every((p) => (OLD.has(p.partition) ? p.disk === 's3' : p.disk === 'default')),
    );
    console.log(`old partitions moved to S3 in ${ms} ms after the start`);
    expect(parts.filter((p) => p.disk === 's3').reduce((n, p) => n + p.rows, 0)).toBe(150);
    expect(parts.filter((p) => p.disk === 'default').map((p) => p.partition)).toEqual([...RECENT.keys()].sort());

    const objects = await listObjects(s3.bucket, partsPrefix({ prefix: s3.prefix }));
    expect(objects.length).toBeGreaterThan(0);
    expect(objects.reduce((n, o) => n + o.size, 0)).toBeGreaterThan(0);
    expect(await numbers()).toEqual(before);
  });

  it('reports storage per table and disk and the oldest hot partition, to the operator only', async () => {
    const storage = await call('GET', '/v1/operator/storage', undefined, OP_KEY);
    expect(storage.status).toBe(200);
    const events = storage.body.tables.filter((t: any) => t.table === TABLES.usageEvents);
    expect(events.map((t: any) => [t.disk, t.rows])).toEqual([
      ['default', 50],
      ['s3', 150],
    ]);
    expect(events.every((t: any) => t.parts > 0 && t.bytes > 0)).toBe(true);
    expect(storage.body.usageEvents).toMatchObject({ storagePolicy: 'tiered', hotRetentionDays: 30, rawRetentionDays: null });
    const [oldestHot] = [...RECENT.keys()].sort();
    expect(storage.body.oldestHotPartition).toMatchObject({ table: TABLES.usageEvents, partition: oldestHot, rows: RECENT.get(oldestHot!) });
    // Totals across tenants: not even a tenant's admin sees them.
    expect((await call('GET', '/v1/operator/storage')).status).toBe(403);
  });

  it('keeps an event that lives on S3 counted once when it is delivered again', async () => {
    const old = events()[0]!;
    expect((await call('POST', '/v1/events', [old])).body.results[0].status).toBe('duplicate');
    expect(await numbers()).toEqual(before);
    // A redelivery that bypasses the writer's lookup (as a Kafka redelivery can): a byte-identical row.
    const { db } = runtime!.deps;
    const [row] = await (
      await db.client.query({
        query: `SELECT * FROM ${db.database}.${TABLES.usageEvents} FINAL WHERE event_id = {id:String}`,
        query_params: { id: old.eventId },
        format: 'JSONEachRow',
      })
    ).json<object>();
    await insertRows(db, 'test.redeliver', TABLES.usageEvents, [row!]);
    await reconcileRollups(db, { settleMs: 0 });
    expect(await numbers()).toEqual(before);
    // Merging the S3 parts of that month (old and redelivered copy) keeps it on S3 and changes nothing.
    await db.client.command({
      query: `OPTIMIZE TABLE ${db.database}.${TABLES.usageEvents} PARTITION {p:String} FINAL`,
      query_params: { p: yyyymm(old.timestamp) },
    });
    const parts = await partsOnDisks();
    expect(parts.filter((p) => p.partition === yyyymm(old.timestamp))).toEqual([{ partition: yyyymm(old.timestamp), disk: 's3', rows: 50 }]);
    expect(await numbers()).toEqual(before);
  });

  it('keeps everything across a restart with data on S3, and refuses to open without S3', async () => {
    await open({ ...baseEnv(), ...s3.env });
    expect(await numbers()).toEqual(before);
    expect(
      (await partsOnDisks())
        .filter((p) => p.disk === 's3')
        .map((p) => p.partition)
        .sort(),
    ).toEqual([...OLD].sort());
    await runtime!.close();
    runtime = undefined;
    await expect(open(baseEnv())).rejects.toThrow(/without S3: it keeps older usage_events parts in bucket "meterhouse" under prefix "test-/);
    await expect(open({ ...baseEnv(), ...s3.env, S3_PREFIX: 'elsewhere/' })).rejects.toThrow(/parts on S3 are in bucket "meterhouse" under prefix "test-/);
    await open({ ...baseEnv(), ...s3.env });
    expect(await numbers()).toEqual(before);
  });
});
