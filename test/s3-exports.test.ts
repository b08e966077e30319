import { beforeAll, describe, expect, it } from 'vitest';
import { now, testClock } from './clock.js';
import { engine, newTenant, type TestTenant } from './harness.js';
import { stateAt, type LoggedOp } from './billing-oracle.js';
import { clockPast, expectExportsMatchOracle, generateEvents, GRACE_MS, send, setUpTenant } from './billing-fixture.js';
import { fromUnits, toUnits } from './oracle.js';
import { testS3, type TestS3 } from './s3.js';
import { billingSettings } from '../api/runtime-settings.js';
import { BillingCloser, closeWork } from '../jobs/billing/close.js';
import { runJob } from '../jobs/scheduler.js';
import { capturedLogger, LEVEL } from './captured-logger.js';
import { computeLines } from '../jobs/billing/lines.js';
import { exportObjectKeys, uploadExport } from '../jobs/billing/objects.js';
import { TABLES } from '../sql/names.js';
import { clickhouseCodeOf } from '../sql/storage-error.js';
import { exportById, sha256 } from '../sql/queries/exports.js';
import { getObject, listObjects } from '../sql/s3/client.js';
import { partsPrefix } from '../sql/tiering.js';

/**
 * Billing with S3 configured, against the real S3 server: every export is
 * also written to the bucket, and events whose parts live on the s3 disk
 * export and correct exactly as hot ones. HOT_RETENTION_DAYS is large so the
 * test decides when parts move (ALTER TABLE … MOVE PARTITION … TO DISK 's3'):
 * the same lines can then be computed before and after the move.
 */
let s3: TestS3;
let t: TestTenant;
const log: LoggedOp[] = [];
const db = async () => (await engine()).deps.db;

beforeAll(async () => {
  s3 = await testS3();
  await engine({ ...s3.env, HOT_RETENTION_DAYS: '3650', BILLING_CUTOFF_LAG_MS: '0', BILLING_GRACE_SECONDS: String(GRACE_MS / 1000) });
  t = await newTenant();
  await setUpTenant(t);
  await send(t, log, generateEvents('s3x', 400, 11, now()));
}, 120_000);

async function query<T>(sql: string, params: Record<string, unknown> = {}): Promise<T[]> {
  const d = await db();
  return (await d.client.query({ query: sql, query_params: { d: d.database, t: TABLES.usageEvents, ...params }, format: 'JSONEachRow' })).json<T>();
}

/** The disks holding the active parts of these events (all their versions). */
async function disksOf(eventIds: string[]): Promise<string[]> {
  const d = await db();
  const rows = await query<{ disk: string }>(
    `SELECT DISTINCT disk_name AS disk FROM system.parts WHERE database = {d:String} AND table = {t:String} AND active
     AND name IN (SELECT _part FROM ${d.database}.${TABLES.usageEvents} WHERE tenant_id = {tenant:String} AND event_id IN {ids:Array(String)})`,
    { tenant: t.tenantId, ids: eventIds },
  );
  return rows.map((r) => r.disk).sort();
}

/** The month (YYYYMM) of the latest event sent: it always holds events, on any day of the month. */
const latestMonth = () => new Date(Math.max(...log.filter((o) => o.event).map((o) => o.event!.timestamp))).toISOString().slice(0, 7).replace('-', '');

/** Move every partition before the latest event's month to the s3 disk; returns that month (YYYYMM). */
async function moveOldPartitionsToS3(): Promise<string> {
  const d = await db();
  const current = latestMonth();
  const partitions = await query<{ partition: string }>(
    `SELECT DISTINCT partition FROM system.parts WHERE database = {d:String} AND table = {t:String} AND active AND disk_name != 's3' AND partition < {p:String} ORDER BY partition`,
    { p: current },
  );
  for (const { partition } of partitions) {
    // A background merge of the partition locks its parts (PART_IS_TEMPORARILY_LOCKED, code 384): wait for it, then move.
    for (let attempt = 1; ; attempt++) {
      try {
        await d.client.command({
          query: `ALTER TABLE ${d.database}.${TABLES.usageEvents} MOVE PARTITION {p:String} TO DISK 's3'`,
          query_params: { p: partition },
        });
        break;
      } catch (error) {
        const code = clickhouseCodeOf(error);
        // UNKNOWN_DISK (479) "already on disk 's3'": a background merge put the partition's last local part on S3
        // between the listing above and this move, which is the state the move was for.
        if (code === '479' && /already on disk 's3'/.test(String(error))) break;
        if (code !== '384' || attempt >= 100) throw error;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  }
  return current;
}

/** The summary the oracle expects from the log: latest version of each event, voided ones left out. */
function expectedSummary() {
  const sums = new Map<string, { units: bigint; events: number }>();
  for (const e of stateAt(log, Infinity)) {
    const k = JSON.stringify([e.customerId, e.metricName]);
    const s = sums.get(k) ?? { units: 0n, events: 0 };
    sums.set(k, { units: s.units + toUnits(e.quantity), events: s.events + 1 });
  }
  return [...sums.entries()]
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([k, s]) => {
      const [customerId, metricName] = JSON.parse(k) as [string, string];
      return { customerId, metricName, quantity: fromUnits(s.units), events: s.events };
    });
}
const summary = async () => (await t.json('GET', `/v1/usage/summary?from=0&to=${now() + 86_400_000}&limit=1000`)).body.data;
const sorted = <T extends { customerId: string; metricName: string }>(rows: T[]) =>
  [...rows].sort((a, b) => (JSON.stringify([a.customerId, a.metricName]) < JSON.stringify([b.customerId, b.metricName]) ? -1 : 1));

const exportsPrefix = () => `${s3.prefix}exports/${t.tenantId}/`;
async function objectsOf(sequence: number) {
  const keys = exportObjectKeys(s3.prefix, t.tenantId, sequence);
  const out: Record<string, Buffer> = {};
  for (const [name, key] of Object.entries(keys)) out[name] = (await getObject(s3.bucket, key))!;
  return out;
}

describe('billing exports in the S3 bucket', () => {
  let firstLines: Awaited<ReturnType<typeof computeLines>>;
  let cutoff1: number;

  it('writes every export to the bucket at the documented keys; the JSONL object is the download and its SHA-256 the checksum', async () => {
    await clockPast(log);
    const closed = await t.json('POST', '/v1/billing/close');
    expect(closed.body.data).toHaveLength(1);
    const m = closed.body.data[0];
    const keys = exportObjectKeys(s3.prefix, t.tenantId, 1);
    expect(keys.jsonl).toBe(`${s3.prefix}exports/${t.tenantId}/000000000001/lines.jsonl`);
    expect(m).toMatchObject({ sequence: 1, objectKey: keys.jsonl, objectStoredAt: expect.any(String) });
    const listed = (await listObjects(s3.bucket, exportsPrefix())).map((o) => o.key).sort();
    expect(listed).toEqual(Object.values(keys).sort());
    // Apart from the s3 disk's objects.
    expect(listed.every((k) => !k.startsWith(partsPrefix({ prefix: s3.prefix })))).toBe(true);

    const objects = await objectsOf(1);
    expect(sha256(objects.jsonl!)).toBe(m.checksum);
    for (const format of ['jsonl', 'csv', 'parquet'] as const) {
      const res = await t.request('GET', `/v1/billing/exports/${m.id}/lines?format=${format}`);
      expect(Buffer.from(await res.arrayBuffer()).equals(objects[format]!), format).toBe(true);
    }
    const manifest = JSON.parse(objects.manifest!.toString('utf8'));
    expect(manifest).toMatchObject({
      tenantId: t.tenantId,
      id: m.id,
      sequence: 1,
      cutoff: m.cutoff,
      lineCount: m.lineCount,
      checksum: m.checksum,
      previousChecksum: '',
    });
    expect(manifest.files.jsonl).toEqual({ key: keys.jsonl, sha256: m.checksum, bytes: objects.jsonl!.length });
    const feed = (await t.json('GET', '/v1/billing/exports')).body.data;
    expect(feed).toEqual([m]);
    expect((await t.json('GET', `/v1/billing/exports/${m.id}`)).body).toMatchObject({ objectKey: keys.jsonl, objectStoredAt: m.objectStoredAt });

    await expectExportsMatchOracle(t, log);
    cutoff1 = Date.parse(m.cutoff);
    firstLines = await computeLines(await db(), t.tenantId, billingSettings((await engine()).deps.config, testClock), cutoff1, undefined);
  });

  it('writes the same objects again on a re-run or re-upload, and no second export', async () => {
    const before = await objectsOf(1);
    const sizes = await listObjects(s3.bucket, exportsPrefix());
    expect((await t.json('POST', '/v1/billing/close')).body.data).toEqual([]);
    const d = await db();
    const [m] = await exportById(d, { tenantId: t.tenantId, id: (await t.json('GET', '/v1/billing/exports')).body.data[0].id });
    // As a run that crashed after its PUTs but before recording them would do.
    await uploadExport(d, { ...s3.bucket, prefix: s3.prefix, timeoutMs: 10_000 }, t.tenantId, m!);
    const after = await objectsOf(1);
    for (const name of Object.keys(before)) expect(after[name]!.equals(before[name]!), name).toBe(true);
    expect(await listObjects(s3.bucket, exportsPrefix())).toEqual(sizes);
    expect((await t.json('GET', '/v1/billing/exports')).body.data).toHaveLength(1);
  });

  it('computes the same lines for an old period once its events live on S3', async () => {
    const current = await moveOldPartitionsToS3();
    const old = log
      .filter((o) => o.event && o.event.timestamp < Date.parse(`${current.slice(0, 4)}-${current.slice(4)}-01T00:00:00Z`))
      .map((o) => o.event!.eventId);
    expect(await disksOf(old)).toEqual(['s3']);
    expect(await computeLines(await db(), t.tenantId, billingSettings((await engine()).deps.config, testClock), cutoff1, undefined)).toEqual(firstLines);
    expect(sorted(await summary())).toEqual(expectedSummary());
    await expectExportsMatchOracle(t, log);
  });

  it('corrects events on the s3 disk exactly as hot ones: summary at once, adjustment lines in the next export', async () => {
    const events = log.filter((o) => o.event).map((o) => o.event!);
    const month = latestMonth();
    const monthStart = Date.parse(`${month.slice(0, 4)}-${month.slice(4)}-01T00:00:00Z`);
    const cold = events.filter((e) => e.timestamp < monthStart - 86_400_000);
    const hot = events.filter((e) => e.timestamp >= monthStart);
    expect(await disksOf(cold.map((e) => e.eventId))).toEqual(['s3']);
    // Sent together, as several admins would (they share one rollup rewrite).
    const amend = { quantity: '7.125', dimensions: { region: 'us' } };
    const ops: LoggedOp[] = [
      ...cold.slice(0, 8).map((e) => ({ doneAt: 0, void: e.eventId })),
      ...[...cold.slice(8, 16), ...hot.slice(0, 4)].map((e) => ({ doneAt: 0, amend: { eventId: e.eventId, ...amend } })),
    ];
    const answers = await Promise.all(
      ops.map((op) => (op.void ? t.json('POST', `/v1/events/${op.void}/void`) : t.json('POST', `/v1/events/${op.amend!.eventId}/amend`, { body: amend }))),
    );
    for (const res of answers) expect(res.status, JSON.stringify(res.body)).toBe(200);
    const doneAt = Date.now();
    log.push(...ops.map((op) => ({ ...op, doneAt })));
    // The new versions land on the local disk (HOT_RETENTION_DAYS is large here): first read across both disks,
    // then with every version on S3.
    expect(await disksOf(cold.slice(0, 16).map((e) => e.eventId))).toEqual(['default', 's3']);
    expect(sorted(await summary())).toEqual(expectedSummary());
    await moveOldPartitionsToS3();
    expect(await disksOf(cold.slice(0, 16).map((e) => e.eventId))).toEqual(['s3']);
    expect(sorted(await summary())).toEqual(expectedSummary());
    await clockPast(log);
    const closed = await t.json('POST', '/v1/billing/close');
    expect(closed.body.data.map((e: any) => e.sequence)).toEqual([2]);
    const [first, second] = await expectExportsMatchOracle(t, log);
    expect(second!.lines.length).toBeGreaterThan(0);
    expect(second!.lines.every((l) => l.kind === 'adjustment')).toBe(true);
    expect(sha256((await objectsOf(1)).jsonl!)).toBe(first!.checksum);
    expect(sha256((await objectsOf(2)).jsonl!)).toBe(second!.checksum);
  }, 120_000);

  it('keeps exports when S3 is down at the close, and uploads them at a later run', async () => {
    const r = await engine();
    const other = await newTenant();
    await setUpTenant(other);
    const otherLog: LoggedOp[] = [];
    await send(other, otherLog, generateEvents('down', 40, 5, now()));
    await clockPast(otherLog);
    const failures: unknown[] = [];
    const down = new BillingCloser(r.deps.db, {
      settings: billingSettings(r.deps.config, testClock),
      bucket: { ...s3.bucket, endpoint: 'http://127.0.0.1:9', prefix: s3.prefix, timeoutMs: 2000 },
      onUploadError: (_, e) => failures.push(e),
    });
    const { exports } = await down.run(other.tenantId);
    expect(exports).toHaveLength(1);
    expect(String(failures[0])).toMatch(/cannot write s3:\/\//);
    const [m] = (await other.json('GET', '/v1/billing/exports')).body.data;
    expect(m).toMatchObject({ sequence: 1, objectKey: exportObjectKeys(s3.prefix, other.tenantId, 1).jsonl, objectStoredAt: null });
    expect(await listObjects(s3.bucket, `${s3.prefix}exports/${other.tenantId}/`)).toEqual([]);
    // The next run (S3 back) has nothing new to close but uploads what is missing, and says so at info.
    const log = capturedLogger();
    const job = { name: 'billing.close', cron: '* * * * *', run: () => r.deps.closer.run(other.tenantId).then(closeWork) };
    await runJob(job, log.logger);
    expect(log.at(LEVEL.info)).toEqual([
      expect.objectContaining({ job: 'billing.close', msg: 'job did work', uploadsRetried: [{ tenantId: other.tenantId, sequences: [1] }] }),
    ]);
    expect(log.at(LEVEL.info)[0]).not.toHaveProperty('exportsWritten');
    const [after] = (await other.json('GET', '/v1/billing/exports')).body.data;
    expect(after.objectStoredAt).toEqual(expect.any(String));
    expect(sha256((await getObject(s3.bucket, after.objectKey))!)).toBe(m.checksum);
  });
});
