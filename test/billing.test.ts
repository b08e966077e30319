import { createHash } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { now, testClock } from './clock.js';
import { engine, newTenant, type TestTenant } from './harness.js';
import { redeliver as storeAgain } from './redeliver.js';
import type { LoggedOp } from './billing-oracle.js';
import type { OracleEvent } from './oracle.js';
import { GRACE_MS, clockPast, expectExportsMatchOracle, generateEvents, send, setUpTenant } from './billing-fixture.js';

/** Write events straight into usage_events, as a Kafka redelivery or a second writer would (no lookup first). */
async function redeliver(t: TestTenant, events: OracleEvent[]) {
  await storeAgain((await engine()).deps.db, t.tenantId, events);
}

const sha256 = (b: Uint8Array | string) => createHash('sha256').update(b).digest('hex');

beforeAll(async () => {
  await engine({ BILLING_CUTOFF_LAG_MS: '0', BILLING_GRACE_SECONDS: String(GRACE_MS / 1000) });
});

describe('customers', () => {
  it('creates, changes, lists and reads customers; validates each field; admin writes only', async () => {
    const t = await newTenant();
    const created = await t.json('PUT', '/v1/customers/acme', { body: { name: 'Acme', timezone: 'America/New_York' } });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ customerId: 'acme', name: 'Acme', timezone: 'America/New_York', billingCycle: { interval: 'month', anchorDay: 1 } });
    const changed = await t.json('PUT', '/v1/customers/acme', { body: { billingCycle: { interval: 'week', anchorDay: 5 } } });
    expect(changed.status).toBe(200);
    expect(changed.body).toMatchObject({
      name: 'Acme',
      timezone: 'America/New_York',
      billingCycle: { interval: 'week', anchorDay: 5 },
      createdAt: created.body.createdAt,
    });
    expect((await t.json('GET', '/v1/customers/acme')).body.billingCycle).toEqual({ interval: 'week', anchorDay: 5 });
    expect((await t.json('GET', '/v1/customers')).body.data.map((c: any) => c.customerId)).toEqual(['acme']);
    expect((await t.json('GET', '/v1/customers/nobody')).status).toBe(404);
    const bad = await t.json('PUT', '/v1/customers/acme', { body: { timezone: 'Mars/Base', billingCycle: { interval: 'week', anchorDay: 9 }, extra: 1 } });
    expect(bad.status).toBe(400);
    expect(bad.body.error.details.map((d: any) => d.path).sort()).toEqual(['', 'billingCycle.anchorDay', 'timezone']);
    const standard = (await t.json('POST', '/v1/api-keys', { body: { name: 'reader' } })).body.key;
    expect((await t.json('PUT', '/v1/customers/x', { key: standard, body: {} })).status).toBe(403);
    expect((await t.json('GET', '/v1/customers/acme', { key: standard })).status).toBe(200);
    expect((await (await newTenant()).json('GET', '/v1/customers/acme')).status).toBe(404);
  });
});

describe('closing periods into exports', () => {
  let t: TestTenant;
  const log: LoggedOp[] = [];

  beforeAll(async () => {
    t = await newTenant();
    await setUpTenant(t);
  });

  it('exports exactly the oracle: usage lines for closed periods in several zones and cycles, deduplicated', async () => {
    const nowMs = now();
    const events = generateEvents('a', 700, 11, nowMs);
    await send(t, log, events);
    // redeliveries: the same ids with other payloads, through the API (answered duplicate) ...
    const again = await t.json('POST', '/v1/events', { body: events.slice(0, 50).map((e) => ({ ...e, quantity: '999' })) });
    expect(again.body.duplicates).toBe(50);
    // ... and below it, as a Kafka redelivery would write them (read-time dedupe must hold)
    await redeliver(t, events.slice(50, 80));
    await clockPast(log);

    const closed = await t.json('POST', '/v1/billing/close');
    expect(closed.status).toBe(200);
    expect(closed.body.data.map((e: any) => e.sequence)).toEqual([1]);
    const [first] = await expectExportsMatchOracle(t, log);
    expect(first!.lines.every((l) => l.kind === 'usage' && l.meterKey !== 'internal')).toBe(true);
    // open periods (the current month) are not exported: the cutoff is the engine's time, periods the product's
    expect(first!.lines.every((l) => Date.parse(l.periodEnd) + GRACE_MS <= Date.parse(closed.body.data[0].cutoff) + testClock.offsetMs)).toBe(true);
    expect(new Set(first!.lines.map((l) => l.customerId))).toEqual(new Set(['c-ny', 'c-kolkata', 'c-mid', 'c-berlin', 'c-default']));
  });

  it('turns late events into adjustments against the original period; a duplicate of an exported event changes nothing', async () => {
    const late = generateEvents('late', 60, 23, now());
    await send(t, log, late);
    const exported = log.slice(0, 40).map((o) => o.event!);
    const dup = await t.json('POST', '/v1/events', { body: exported.map((e) => ({ ...e, quantity: '7' })) });
    expect(dup.body.duplicates).toBe(40);
    // a redelivery below the API after the export, even one whose payload differs, leaves the exported value alone
    await redeliver(
      t,
      exported.slice(0, 10).map((e) => ({ ...e, quantity: '123' })),
    );
    await clockPast(log);
    const closed = await t.json('POST', '/v1/billing/close');
    expect(closed.body.data.map((e: any) => e.sequence)).toEqual([2]);
    const [, second] = await expectExportsMatchOracle(t, log);
    expect(second!.lines.length).toBeGreaterThan(0);
    expect(second!.lines.every((l) => l.kind === 'adjustment')).toBe(true);
  });

  it('writes no export when nothing closed or changed, and pages the feed by sequence', async () => {
    expect((await t.json('POST', '/v1/billing/close')).body.data).toEqual([]);
    const feed = (await t.json('GET', '/v1/billing/exports')).body.data;
    expect(feed.map((e: any) => e.sequence)).toEqual([1, 2]);
    expect((await t.json('GET', '/v1/billing/exports?afterSequence=1')).body.data.map((e: any) => e.sequence)).toEqual([2]);
    expect((await t.json('GET', '/v1/billing/exports?afterSequence=-1')).status).toBe(400);
  });

  it('serves JSONL, CSV and Parquet written by the engine; the checksum verifies the JSONL; exports never change', async () => {
    const [manifest] = (await t.json('GET', '/v1/billing/exports')).body.data;
    const jsonl = await t.request('GET', `/v1/billing/exports/${manifest.id}/lines?format=jsonl`);
    const bytes = new Uint8Array(await jsonl.arrayBuffer());
    expect(jsonl.headers.get('content-type')).toBe('application/x-ndjson');
    expect(sha256(bytes)).toBe(manifest.checksum);
    expect(jsonl.headers.get('x-checksum-sha256')).toBe(manifest.checksum);
    const rows = Buffer.from(bytes)
      .toString('utf8')
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(rows).toHaveLength(manifest.lineCount);
    expect(Object.keys(rows[0])).toEqual(['customerId', 'meterKey', 'periodStart', 'periodEnd', 'kind', 'value', 'events']);
    // the README's rule: the engine-written file quotes 64-bit counts, the API's JSON carries integers
    const { lines } = (await t.json('GET', `/v1/billing/exports/${manifest.id}`)).body;
    expect(rows.map((r) => r.events)).toEqual(lines.map((l: { events: number }) => String(l.events)));
    expect(lines.every((l: { events: unknown }) => Number.isInteger(l.events))).toBe(true);

    const csv = await t.request('GET', `/v1/billing/exports/${manifest.id}/lines?format=csv`);
    const text = await csv.text();
    expect(text.split('\n')[0]).toBe('"customerId","meterKey","periodStart","periodEnd","kind","value","events"');
    expect(text.trimEnd().split('\n')).toHaveLength(manifest.lineCount + 1);
    expect(csv.headers.get('x-checksum-sha256')).toBe(sha256(text));

    const parquet = new Uint8Array(await (await t.request('GET', `/v1/billing/exports/${manifest.id}/lines?format=parquet`)).arrayBuffer());
    expect(Buffer.from(parquet.subarray(0, 4)).toString()).toBe('PAR1');

    // later events and closes leave an export's bytes as they were
    await send(t, log, generateEvents('later', 20, 5, now()));
    await clockPast(log);
    await t.json('POST', '/v1/billing/close');
    const again = new Uint8Array(await (await t.request('GET', `/v1/billing/exports/${manifest.id}/lines`)).arrayBuffer());
    expect(sha256(again)).toBe(manifest.checksum);
    await expectExportsMatchOracle(t, log);
  });

  it('keeps exports to their tenant and closing to admins', async () => {
    const [manifest] = (await t.json('GET', '/v1/billing/exports')).body.data;
    const other = await newTenant();
    expect((await other.json('GET', `/v1/billing/exports/${manifest.id}`)).status).toBe(404);
    expect((await other.json('GET', '/v1/billing/exports')).body.data).toEqual([]);
    const standard = (await t.json('POST', '/v1/api-keys', { body: { name: 'biller' } })).body.key;
    expect((await t.json('POST', '/v1/billing/close', { key: standard })).status).toBe(403);
    expect((await t.json('GET', `/v1/billing/exports/${manifest.id}`, { key: standard })).status).toBe(200);
    expect((await t.json('PUT', '/v1/customers/c-ny', { body: { timezone: 'Europe/Paris' } })).status).toBe(409);
    expect((await t.json('GET', `/v1/billing/exports/${manifest.id}/lines?format=xml`)).status).toBe(400);
  });
});
