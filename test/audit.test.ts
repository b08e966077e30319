import { describe, expect, it } from 'vitest';
import { OPERATOR_KEY, engine, newTenant, type TestTenant } from './harness.js';
import { now } from './clock.js';
import { TABLES } from '../sql/names.js';
import { execute } from '../sql/query.js';
import { auditHash, type AuditLog } from '../access/audit.js';
import { insertAuditRow } from '../sql/queries/audit.js';
import { insertRows } from '../sql/query.js';

const WEBHOOK_SECRET = 'whsec-0123456789abcdef-never-logged';

async function keyIdOf(t: TestTenant, name: string): Promise<string> {
  const { body } = await t.json('GET', '/v1/api-keys');
  return (body.data as { id: string; name: string }[]).find((k) => k.name === name)!.id;
}

/** Make one change of every kind an admin can make through the API; returns the secrets it saw. */
async function changeEverything(t: TestTenant): Promise<string[]> {
  const created = await t.json('POST', '/v1/api-keys', { body: { name: 'svc', role: 'standard' } });
  expect(created.status).toBe(201);
  expect((await t.json('DELETE', `/v1/api-keys/${created.body.id}`)).status).toBe(200);
  expect((await t.json('POST', '/v1/meters', { body: { key: 'calls', metricName: 'api.calls', aggregation: 'COUNT' } })).status).toBe(201);
  expect((await t.json('PATCH', '/v1/meters/calls', { body: { name: 'API calls' } })).status).toBe(200);
  expect((await t.json('PUT', '/v1/customers/acme', { body: { name: 'Acme' } })).status).toBe(201);
  const sent = await t.json('POST', '/v1/events', {
    body: [
      {
        eventId: 'e1',
        customerId: 'acme',
        metricName: 'api.calls',
        timestamp: now() - 60_000,
        quantity: '7.123456789',
        dimensions: { region: 'secret-region' },
      },
    ],
  });
  expect(sent.status).toBe(200);
  expect((await t.json('POST', '/v1/events/e1/amend', { body: { quantity: '3' } })).status).toBe(200);
  expect((await t.json('POST', '/v1/events/e1/void')).status).toBe(200);
  expect((await t.json('PUT', '/v1/webhooks', { body: { url: 'http://127.0.0.1:9/hook', secret: WEBHOOK_SECRET } })).status).toBe(200);
  expect((await t.request('DELETE', '/v1/webhooks')).status).toBe(204);
  expect((await t.request('DELETE', '/v1/meters/calls')).status).toBe(204);
  return [created.body.key, WEBHOOK_SECRET, t.adminKey];
}

const allRows = async (t: TestTenant, query = '') => {
  const rows: any[] = [];
  let cursor: string | null = null;
  do {
    const page: any = await t.json('GET', `/v1/audit?limit=3${query}${cursor ? `&cursor=${cursor}` : ''}`);
    expect(page.status, JSON.stringify(page.body)).toBe(200);
    rows.push(...page.body.data);
    cursor = page.body.nextCursor;
  } while (cursor);
  return rows;
};

describe('audit log', () => {
  it('records every change through the API: who (key id), what, before and after; never a secret nor an event payload', async () => {
    const t = await newTenant();
    const secrets = await changeEverything(t);
    const adminKeyId = await keyIdOf(t, 'test admin');
    const rows = await allRows(t);
    expect(rows.map((r) => r.kind)).toEqual([
      'api_key.created',
      'api_key.revoked',
      'meter.created',
      'meter.updated',
      'customer.put',
      'correction.amended',
      'correction.voided',
      'webhook.set',
      'webhook.deleted',
      'meter.deleted',
    ]);
    expect(rows.map((r) => r.sequence)).toEqual(rows.map((_, i) => i + 1));
    expect(new Set(rows.map((r) => r.actor))).toEqual(new Set([adminKeyId]));
    expect(rows.every((r) => r.requestId.length > 0)).toBe(true);
    const updated = rows.find((r) => r.kind === 'meter.updated');
    expect([updated.before.name, updated.after.name]).toEqual([undefined, 'API calls']);
    expect(rows.find((r) => r.kind === 'webhook.set').after.url).toBe('http://127.0.0.1:9/hook');
    const text = JSON.stringify(rows);
    for (const secret of secrets) expect(text).not.toContain(secret);
    expect(text).not.toContain('secret-region');
    expect(text).not.toContain('7.123456789');
  });

  it('filters by kind and by a half-open time window', async () => {
    const t = await newTenant();
    await changeEverything(t);
    const meters = await allRows(t, '&kind=meter.created');
    expect(meters.map((r) => r.kind)).toEqual(['meter.created']);
    const all = await allRows(t);
    const at = (i: number) => Date.parse(all[i].at);
    const window = await allRows(t, `&from=${at(2)}&to=${at(4)}`);
    expect(window.map((r) => r.id)).toEqual(all.filter((r) => Date.parse(r.at) >= at(2) && Date.parse(r.at) < at(4)).map((r) => r.id));
    expect(window.length).toBeGreaterThan(0);
  });

  it('records a dead-letter replay that replayed something, with positions and ids, not the message', async () => {
    const { deps } = await engine();
    const t = await newTenant();
    const at = now();
    const letter = {
      tenant_id: t.tenantId,
      topic: 'usage_events',
      partition: 0,
      offset: at,
      raw_message: '{"broken-payload":',
      error: 'not JSON',
      received_at: at,
      version: 1,
    };
    await insertRows(deps.db, 'test.dead_letter', TABLES.usageDeadLetters, [letter]);
    const item = { topic: 'usage_events', partition: 0, offset: at };
    const nothing = await t.json('POST', '/v1/dead-letters/replay', { body: { deadLetters: [{ ...item, offset: at + 1 }] } });
    expect(nothing.body.results[0].status).toBe('not_found');
    const replayed = await t.json('POST', '/v1/dead-letters/replay', {
      body: { deadLetters: [{ ...item, event: { eventId: 'dl-1', customerId: 'c', metricName: 'm', timestamp: at - 1000 } }] },
    });
    expect(replayed.body.results[0].status).toBe('replayed');
    const rows = await allRows(t, '&kind=dead_letter.replayed');
    expect(rows.map((r) => r.after)).toEqual([[{ ...item, eventId: 'dl-1', status: 'replayed' }]]);
    expect(JSON.stringify(rows)).not.toContain('broken-payload');
  });

  it("records the operator's changes to a tenant in that tenant's chain, as actor operator", async () => {
    const { app } = await engine();
    const tenantId = `op-${now().toString(36)}`;
    const op = (method: string, path: string, body: unknown) =>
      app.request(path, { method, headers: { authorization: `Bearer ${OPERATOR_KEY}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const created = (await (await op('POST', '/v1/operator/tenants', { tenantId, name: 'Before' })).json()) as { adminKey: string };
    expect((await op('PATCH', `/v1/operator/tenants/${tenantId}`, { name: 'After' })).status).toBe(200);
    const rows = ((await (await app.request('/v1/audit', { headers: { authorization: `Bearer ${created.adminKey}` } })).json()) as any).data;
    expect(rows.map((r: any) => [r.actor, r.kind, r.target])).toEqual([
      ['operator', 'tenant.created', tenantId],
      ['operator', 'api_key.created', expect.stringMatching(/^key_/)],
      ['operator', 'tenant.updated', tenantId],
    ]);
    expect([rows[2].before.name, rows[2].after.name]).toEqual(['Before', 'After']);
    expect(JSON.stringify(rows)).not.toContain(created.adminKey);
  });

  it('is for admin keys only', async () => {
    const t = await newTenant();
    const key = (await t.json('POST', '/v1/api-keys', { body: { name: 'svc' } })).body.key;
    expect((await t.json('GET', '/v1/audit', { key })).status).toBe(403);
    expect((await t.json('GET', '/v1/audit/verify', { key })).status).toBe(403);
  });
});

describe('audit chain', () => {
  it('verifies an intact chain and names a row changed in the engine (ALTER UPDATE)', async () => {
    const { deps } = await engine();
    const t = await newTenant();
    await changeEverything(t);
    const intact = (await t.json('GET', '/v1/audit/verify')).body;
    expect(intact).toMatchObject({ ok: true, rows: 10 });
    const rows = await allRows(t);
    const victim = rows[3];
    await execute(
      deps.db,
      'test.tamper',
      `ALTER TABLE ${deps.db.database}.${TABLES.auditLog} UPDATE after = {after:String} WHERE tenant_id = {t:String} AND id = {id:String} SETTINGS mutations_sync = 2`,
      { after: JSON.stringify({ name: 'forged' }), t: t.tenantId, id: victim.id },
    );
    const broken = (await t.json('GET', '/v1/audit/verify')).body;
    expect(broken).toMatchObject({ ok: false, rows: 3, firstBad: { id: victim.id, sequence: 4, reason: expect.stringContaining('hash') } });
  });

  it('names a forged row inserted with a self-consistent hash that does not link to the chain', async () => {
    const { deps } = await engine();
    const t = await newTenant();
    await changeEverything(t);
    const rows = await allRows(t);
    const forged = {
      tenantId: t.tenantId,
      sequence: 11,
      id: 'aud_forged',
      atMs: now(),
      actor: rows[0].actor,
      kind: 'api_key.created',
      requestId: 'x',
      target: 'k',
      before: '',
      after: '{}',
      previousHash: '0'.repeat(64),
    };
    await insertAuditRow(deps.db, { ...forged, hash: auditHash(forged) });
    const broken = (await t.json('GET', '/v1/audit/verify')).body;
    expect(broken).toMatchObject({ ok: false, rows: 10, firstBad: { id: 'aud_forged', sequence: 11, reason: expect.stringContaining('previous_hash') } });
    expect(broken.head).toEqual({ sequence: 10, hash: rows[9].hash });
  });

  it('stays one chain when appends race, in one process and (bypassing its queue) as separate processes would', async () => {
    const { deps } = await engine();
    const t = await newTenant();
    const who = { tenantId: t.tenantId, actor: 'test', requestId: 'r' };
    await Promise.all(Array.from({ length: 8 }, (_, i) => deps.audit.record(who, 'meter.created', { target: `m${i}` })));
    // Two writers that each read the same head, as two server instances would: only the insert-deduplication token orders them.
    const append = (deps.audit as unknown as { append: AuditLog['record'] }).append.bind(deps.audit);
    await Promise.all(Array.from({ length: 6 }, (_, i) => append(who, 'meter.updated', { target: `m${i}` })));
    expect(await deps.audit.verify(t.tenantId)).toMatchObject({ ok: true, rows: 14 });
  });
});
