import { createServer, type Server } from 'node:http';
import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { now } from './clock.js';
import { engine, newTenant, type TestTenant } from './harness.js';
import { waitFor } from './wait.js';
import type { LoggedOp } from './billing-oracle.js';
import { GRACE_MS, clockPast, generateEvents, send, setUpTenant } from './billing-fixture.js';
import { TABLES } from '../sql/names.js';
import { execute, insertRows, type Db } from '../sql/query.js';
import { randomUUID } from 'node:crypto';
import { migrate } from '../sql/migrations.js';
import { engineNow, exportFile, sha256, writeExport, writeLines } from '../sql/queries/exports.js';
import { verifyExports } from '../access/export-chain.js';

/** Two billers' endpoints on one server: each request is kept with its path and signature. */
const received: { path: string; body: string; signature: string }[] = [];
let server: Server;
let base = '';

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ path: req.url ?? '', body: Buffer.concat(chunks).toString('utf8'), signature: String(req.headers['x-meterhouse-signature']) });
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  const r = await engine({
    BILLING_CUTOFF_LAG_MS: '0',
    BILLING_GRACE_SECONDS: String(GRACE_MS / 1000),
    BILLING_WEBHOOK_POLL_MS: '20',
    BILLING_CLOSE_CRON: '0 0 1 1 *',
  });
  r.startJobs();
});

afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

/** Close twice (the second with late events, so it has adjustment lines); returns both manifests. */
async function twoExports(t: TestTenant, prefix: string): Promise<any[]> {
  const log: LoggedOp[] = [];
  await setUpTenant(t);
  await send(t, log, generateEvents(prefix, 40, 7, now()));
  await clockPast(log);
  const first = (await t.json('POST', '/v1/billing/close')).body.data[0];
  await send(t, log, generateEvents(`${prefix}-late`, 10, 8, now()));
  await clockPast(log);
  const second = (await t.json('POST', '/v1/billing/close')).body.data[0];
  return [first, second];
}

describe('export ledger', () => {
  it('chains each manifest to the previous one, verifies, and names an export whose lines were changed', async () => {
    const { deps } = await engine();
    const t = await newTenant();
    const [first, second] = await twoExports(t, 'l');
    expect([first.sequence, second.sequence]).toEqual([1, 2]);
    expect(first.previousChecksum).toBe('');
    expect(second.previousChecksum).toBe(first.checksum);
    expect((await t.json('GET', `/v1/billing/exports/${second.id}`)).body.previousChecksum).toBe(first.checksum);
    expect((await t.json('GET', '/v1/billing/exports/verify')).body).toEqual({ ok: true, exports: 2, head: { sequence: 2, checksum: second.checksum } });
    // the close is in the audit log, with ids and checksums only
    const closes = (await t.json('GET', '/v1/audit?kind=billing.closed')).body.data;
    expect(closes.map((r: any) => r.after)).toEqual([
      [{ id: first.id, sequence: 1, checksum: first.checksum }],
      [{ id: second.id, sequence: 2, checksum: second.checksum }],
    ]);

    await execute(
      deps.db,
      'test.tamper',
      `ALTER TABLE ${deps.db.database}.${TABLES.billingExportLines} UPDATE events = events + 1 WHERE tenant_id = {t:String} AND sequence = 2 SETTINGS mutations_sync = 2`,
      { t: t.tenantId },
    );
    expect((await t.json('GET', '/v1/billing/exports/verify')).body).toMatchObject({
      ok: false,
      exports: 1,
      firstBad: { id: second.id, sequence: 2, reason: expect.stringContaining('checksum') },
    });
  });

  it('names a manifest whose previousChecksum was rewritten', async () => {
    const { deps } = await engine();
    const t = await newTenant();
    const [, second] = await twoExports(t, 'p');
    await execute(
      deps.db,
      'test.tamper',
      `ALTER TABLE ${deps.db.database}.${TABLES.billingExports} UPDATE previous_checksum = {c:String} WHERE tenant_id = {t:String} AND sequence = 2 SETTINGS mutations_sync = 2`,
      { t: t.tenantId, c: 'f'.repeat(64) },
    );
    expect((await t.json('GET', '/v1/billing/exports/verify')).body).toMatchObject({
      ok: false,
      firstBad: { id: second.id, reason: expect.stringContaining('previous_checksum') },
    });
    // blanked, it does not pass for an export written before the chain existed
    await execute(
      deps.db,
      'test.tamper',
      `ALTER TABLE ${deps.db.database}.${TABLES.billingExports} UPDATE previous_checksum = '' WHERE tenant_id = {t:String} AND sequence = 2 SETTINGS mutations_sync = 2`,
      { t: t.tenantId },
    );
    expect((await t.json('GET', '/v1/billing/exports/verify')).body).toMatchObject({
      ok: false,
      firstBad: { id: second.id, reason: 'previous_checksum is empty after a chained export' },
    });
  });
});

describe('migration 14 on a database with exports written before it', () => {
  it('adds previous_checksum, accepts the old exports as an unchained prefix, chains the next, and is idempotent', async () => {
    const { client } = (await engine()).deps.db;
    const db: Db = { client, database: `ledger_${randomUUID().slice(0, 8)}` };
    await migrate(db, { upTo: 13 });
    const at = now();
    // Written before the migration by the engine's clock, as a close stamps created_at.
    const before = (await engineNow(db, {}))[0]!.nowMs - 1000;
    const line = { customerId: 'c', meterKey: 'k', periodStartMs: at - 2000, periodEndMs: at - 1000, kind: 'usage' as const, value: '1.5', events: 1 };
    const checksums: string[] = [];
    for (const sequence of [1, 2]) {
      await writeLines(db, 'up', sequence, [{ ...line, value: String(sequence) }]);
      checksums.push(sha256(await exportFile(db, 'up', sequence, 'jsonl')));
      // The manifest as the old schema wrote it: no previous_checksum column.
      await insertRows(db, 'test.old_export', TABLES.billingExports, [
        { tenant_id: 'up', sequence, export_id: `old${sequence}`, created_at: before, cutoff: before, line_count: 1, checksum: checksums[sequence - 1] },
      ]);
    }
    expect(await migrate(db, { upTo: 14 })).toEqual([14]);
    await migrate(db); // later migrations (not this test's subject) too
    expect(await migrate(db)).toEqual([]);
    expect(await verifyExports(db, 'up')).toEqual({ ok: true, exports: 2, head: { sequence: 2, checksum: checksums[1] } });
    await writeLines(db, 'up', 3, [line]);
    checksums.push(sha256(await exportFile(db, 'up', 3, 'jsonl')));
    await writeExport(db, 'up', { sequence: 3, createdAtMs: at, cutoffMs: at, lineCount: 1, checksum: checksums[2]!, previousChecksum: checksums[1]! });
    expect(await verifyExports(db, 'up')).toMatchObject({ ok: true, exports: 3 });
    // once chained, an export without a link is a break
    await writeLines(db, 'up', 4, [line]);
    await writeExport(db, 'up', {
      sequence: 4,
      createdAtMs: at,
      cutoffMs: at,
      lineCount: 1,
      checksum: sha256(await exportFile(db, 'up', 4, 'jsonl')),
      previousChecksum: '',
    });
    expect(await verifyExports(db, 'up')).toMatchObject({
      ok: false,
      exports: 3,
      firstBad: { sequence: 4, reason: 'previous_checksum is empty after a chained export' },
    });
  });
});

describe('webhooks per tenant', () => {
  it("delivers each tenant's exports to its own endpoint, signed with its own secret; GET never shows the secret; DELETE stops deliveries", async () => {
    const a = await newTenant();
    const b = await newTenant();
    const secrets = { [a.tenantId]: 'secret-of-tenant-a-0123456789', [b.tenantId]: 'secret-of-tenant-b-0123456789' };
    for (const t of [a, b]) {
      const put = await t.json('PUT', '/v1/webhooks', { body: { url: `${base}/${t.tenantId}`, secret: secrets[t.tenantId] } });
      expect(put.status).toBe(200);
      expect(put.body).toMatchObject({ url: `${base}/${t.tenantId}`, source: 'tenant' });
      const got = await t.json('GET', '/v1/webhooks');
      expect(JSON.stringify(got.body)).not.toContain(secrets[t.tenantId]);
      expect(got.body.url).toBe(`${base}/${t.tenantId}`);
    }
    const exportsOf = { [a.tenantId]: await twoExports(a, 'wa'), [b.tenantId]: await twoExports(b, 'wb') };
    const mine = (t: TestTenant) => received.filter((r) => JSON.parse(r.body).tenantId === t.tenantId);
    await waitFor("both tenants' exports delivered", () => mine(a).length >= 2 && mine(b).length >= 2, 20_000);
    for (const t of [a, b]) {
      for (const r of mine(t)) {
        expect(r.path).toBe(`/${t.tenantId}`);
        expect(r.signature).toBe(`sha256=${createHmac('sha256', secrets[t.tenantId]!).update(r.body).digest('hex')}`);
      }
      expect(mine(t).map((r) => JSON.parse(r.body).export.id)).toEqual(exportsOf[t.tenantId]!.map((m) => m.id));
    }

    expect((await a.request('DELETE', '/v1/webhooks')).status).toBe(204);
    expect((await a.json('GET', '/v1/webhooks')).body).toEqual({ url: null, updatedAt: null, source: 'none' });
    const log: LoggedOp[] = [];
    await send(a, log, generateEvents('wa-after', 10, 9, now()));
    await clockPast(log);
    const third = (await a.json('POST', '/v1/billing/close')).body.data[0];
    expect(third.sequence).toBe(3);
    // b's endpoint still works (a new export of b arrives) while a's third stays in the outbox
    await send(b, log, generateEvents('wb-after', 10, 9, now()));
    await clockPast(log);
    const bThird = (await b.json('POST', '/v1/billing/close')).body.data[0];
    await waitFor("b's third export delivered", () => mine(b).some((r) => JSON.parse(r.body).export.id === bThird.id), 20_000);
    expect(mine(a).map((r) => JSON.parse(r.body).export.sequence)).toEqual([1, 2]);

    const hooks = (await a.json('GET', '/v1/audit?kind=webhook.set')).body.data;
    expect(hooks.map((r: any) => r.after)).toEqual([{ url: `${base}/${a.tenantId}`, secretChanged: true }]);
    expect(JSON.stringify((await a.json('GET', '/v1/audit')).body)).not.toContain(secrets[a.tenantId]);
  });

  it('is for admin keys only', async () => {
    const t = await newTenant();
    const key = (await t.json('POST', '/v1/api-keys', { body: { name: 'svc' } })).body.key;
    expect((await t.json('PUT', '/v1/webhooks', { key, body: { url: `${base}/x`, secret: 'x'.repeat(20) } })).status).toBe(403);
    expect((await t.json('GET', '/v1/webhooks', { key })).status).toBe(403);
  });
});
