import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { now } from './clock.js';
import { engine, newTenant, type TestTenant } from './harness.js';
import { aggregate, fromUnits, toUnits, type OracleEvent } from './oracle.js';
import { stateAt, type LoggedOp } from './billing-oracle.js';
import { GRACE_MS, METERS, clockPast, expectExportsMatchOracle, generateEvents, send, setUpTenant } from './billing-fixture.js';
import { TABLES } from '../sql/names.js';
import { insertRows } from '../sql/query.js';

/**
 * Two tenants that use the same event ids, customer ids, customer records and
 * meter keys, with different quantities. Every tenant route is exercised with
 * each tenant's keys: nothing of one is visible to or changeable by the other,
 * and each tenant's numbers equal its own oracle.
 */
const DAY = 86_400_000;
let nowMs: number;
let window: string;
const tenants: { t: TestTenant; log: LoggedOp[] }[] = [];

beforeAll(async () => {
  await engine({ BILLING_CUTOFF_LAG_MS: '0', BILLING_GRACE_SECONDS: String(GRACE_MS / 1000) });
  nowMs = now();
  window = `from=${nowMs - 130 * DAY}&to=${nowMs + DAY}`;
  for (const seed of [1, 2]) {
    const t = await newTenant();
    await setUpTenant(t); // the same customers and meters in both
    const log: LoggedOp[] = [];
    await send(t, log, generateEvents('iso', 150, seed, nowMs)); // the same event ids, other quantities
    tenants.push({ t, log });
  }
});

const current = (log: LoggedOp[]) => stateAt(log, Infinity);
const sumOf = (values: (string | number | null)[]) => fromUnits(values.reduce<bigint>((s, v) => s + (v === null ? 0n : toUnits(String(v))), 0n));
const inWindow = (events: OracleEvent[]) => events.filter((e) => e.timestamp >= nowMs - 130 * DAY && e.timestamp < nowMs + DAY);

function summaryOracle(events: OracleEvent[]) {
  const groups = new Map<string, OracleEvent[]>();
  for (const e of events) groups.set(`${e.customerId}\u0000${e.metricName}`, [...(groups.get(`${e.customerId}\u0000${e.metricName}`) ?? []), e]);
  return [...groups].map(([k, es]) => ({
    customerId: k.split('\u0000')[0],
    metricName: k.split('\u0000')[1],
    quantity: aggregate('SUM', es),
    events: es.length,
  }));
}
const byKey = (rows: any[]) => [...rows].sort((a, b) => (`${a.customerId} ${a.metricName}` < `${b.customerId} ${b.metricName}` ? -1 : 1));

/** Each tenant's numbers (summary, every meter, events) equal its own oracle. */
async function expectOwnNumbers() {
  for (const { t, log } of tenants) {
    const events = inWindow(current(log));
    const summary = await t.json('GET', `/v1/usage/summary?${window}`);
    expect(byKey(summary.body.data)).toEqual(byKey(summaryOracle(events)));
    for (const m of METERS.filter((m) => ['SUM', 'COUNT'].includes(m.aggregation))) {
      const usage = await t.json('GET', `/v1/meters/${m.key}/usage?${window}&granularity=month`);
      expect(usage.status).toBe(200);
      const expected = aggregate(
        m.aggregation,
        events.filter((e) => e.metricName === m.metricName),
      );
      expect(sumOf(usage.body.data.map((r: any) => r.value)), `${t.tenantId} ${m.key}`).toBe(fromUnits(toUnits(String(expected))));
    }
    const listed = await t.json('GET', `/v1/events?${window}&limit=1000`);
    expect(listed.body.data.map((e: any) => [e.eventId, e.quantity]).sort()).toEqual(
      current(log)
        .map((e) => [e.eventId, fromUnits(toUnits(e.quantity))])
        .sort(),
    );
  }
}

describe('two tenants with the same ids', () => {
  it('see only their own events, usage and meter values', async () => {
    const [a, b] = tenants.map((x) => current(x.log));
    expect(a!.map((e) => e.eventId)).toEqual(b!.map((e) => e.eventId));
    expect(a!.map((e) => e.quantity)).not.toEqual(b!.map((e) => e.quantity));
    await expectOwnNumbers();
  });

  it('change only their own meters and customers', async () => {
    const [{ t: a }, { t: b }] = tenants as [(typeof tenants)[0], (typeof tenants)[0]];
    expect((await a.json('PATCH', '/v1/meters/internal', { body: { name: 'changed by a' } })).status).toBe(200);
    expect((await b.json('GET', '/v1/meters/internal')).body.name).toBeUndefined();
    expect((await a.request('DELETE', '/v1/meters/internal')).status).toBe(204);
    expect((await b.json('GET', '/v1/meters/internal')).status).toBe(200);
    expect((await a.json('GET', '/v1/meters')).body.data.map((m: any) => m.key)).not.toContain('internal');
    expect((await a.json('PUT', '/v1/customers/c-ny', { body: { name: 'renamed by a' } })).status).toBe(200);
    expect((await b.json('GET', '/v1/customers/c-ny')).body.name).toBe('c-ny');
    expect((await b.json('GET', '/v1/customers')).body.data.map((c: any) => c.name)).not.toContain('renamed by a');
  });

  it('correct only their own events (void, amend, history)', async () => {
    const [A, B] = tenants as [(typeof tenants)[0], (typeof tenants)[0]];
    expect((await A.t.json('POST', '/v1/events/iso-0/void', { body: {} })).status).toBe(200);
    A.log.push({ doneAt: Date.now(), void: 'iso-0' });
    expect((await A.t.json('POST', '/v1/events/iso-1/amend', { body: { quantity: '1234.5' } })).status).toBe(200);
    A.log.push({ doneAt: Date.now(), amend: { eventId: 'iso-1', quantity: '1234.5' } });
    const history = (t: TestTenant, id: string) => t.json('GET', `/v1/events/${id}/history`);
    expect((await history(A.t, 'iso-0')).body.data.length).toBe(2);
    expect((await history(B.t, 'iso-0')).body.data.length).toBe(1);
    expect((await history(B.t, 'iso-1')).body.data.map((v: any) => v.quantity)).not.toContain('1234.5');
    await expectOwnNumbers();
  });

  it('close and read only their own exports, each equal to its own oracle', async () => {
    const [A, B] = tenants as [(typeof tenants)[0], (typeof tenants)[0]];
    await clockPast([...A.log, ...B.log]);
    const closedA = await A.t.json('POST', '/v1/billing/close');
    expect(closedA.status).toBe(200);
    expect(closedA.body.data.length).toBeGreaterThan(0);
    expect((await B.t.json('GET', '/v1/billing/exports')).body.data).toEqual([]);
    const first = closedA.body.data[0];
    expect((await B.t.json('GET', `/v1/billing/exports/${first.id}`)).status).toBe(404);
    expect((await B.t.request('GET', `/v1/billing/exports/${first.id}/lines`)).status).toBe(404);
    expect((await B.t.json('POST', '/v1/billing/close')).status).toBe(200);
    const exportsA = await expectExportsMatchOracle(A.t, A.log);
    const exportsB = await expectExportsMatchOracle(B.t, B.log);
    expect(exportsA.map((e) => e.sequence)).toEqual(exportsB.map((e) => e.sequence)); // each tenant its own sequence
    expect(exportsA.map((e) => e.checksum)).not.toEqual(exportsB.map((e) => e.checksum));
  });

  it('see and replay only their own dead letters', async () => {
    const [{ t: a }, { t: b }] = tenants as [(typeof tenants)[0], (typeof tenants)[0]];
    const topic = `iso-${randomUUID().slice(0, 8)}`;
    const message = (tenantId: string) => JSON.stringify({ tenantId, eventId: 'dl-1', customerId: 'c-ny', metricName: 'api.calls', quantity: 'bad' });
    const row = (t: TestTenant, offset: number) => ({
      tenant_id: t.tenantId,
      topic,
      partition: 0,
      offset,
      raw_message: message(t.tenantId),
      error: 'quantity: not a decimal',
      received_at: Date.now(),
    });
    await insertRows((await engine()).deps.db, 'test.dead_letters', TABLES.usageDeadLetters, [row(a, 1), row(b, 2)]);
    const listed = async (t: TestTenant) =>
      (await t.json('GET', '/v1/dead-letters?limit=1000')).body.data.filter((d: any) => d.topic === topic).map((d: any) => d.offset);
    expect(await listed(a)).toEqual([1]);
    expect(await listed(b)).toEqual([2]);
    const stolen = await b.json('POST', '/v1/dead-letters/replay', {
      body: { deadLetters: [{ topic, partition: 0, offset: 1, event: { eventId: 'dl-1', customerId: 'c-ny', metricName: 'api.calls', timestamp: now() } }] },
    });
    expect(stolen.body.results[0].status).toBe('not_found');
    expect((await a.json('GET', '/v1/dead-letters?status=pending&limit=1000')).body.data.filter((d: any) => d.topic === topic)).toHaveLength(1);
  });

  it('list and revoke only their own keys', async () => {
    const [{ t: a }, { t: b }] = tenants as [(typeof tenants)[0], (typeof tenants)[0]];
    const made = (await b.json('POST', '/v1/api-keys', { body: { name: 'reader', scopes: ['usage:read'] } })).body;
    expect((await a.json('GET', '/v1/api-keys')).body.data.map((k: any) => k.id)).not.toContain(made.id);
    expect((await a.json('DELETE', `/v1/api-keys/${made.id}`)).status).toBe(404);
    expect((await b.json('GET', `/v1/usage/summary?${window}`, { key: made.key })).status).toBe(200);
    // a key reads its own tenant whatever the request says
    const summaryB = await b.json('GET', `/v1/usage/summary?${window}`, { key: made.key });
    expect(byKey(summaryB.body.data)).toEqual(byKey(summaryOracle(inWindow(current(tenants[1]!.log)))));
    await expectOwnNumbers();
  });
});
