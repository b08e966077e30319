import { describe, expect, it } from 'vitest';
import { now, testClock } from './clock.js';
import { engine, eventRow as row, newTenant } from './harness.js';
import { databaseBefore, runMigrationAgain, select } from './upgrade.js';
import { MIGRATIONS, migrate } from '../sql/migrations.js';
import { TABLES } from '../sql/names.js';
import type { Db } from '../sql/query.js';
import { storedIdentities } from '../sql/queries/event-lookup.js';
import { applyEventsRetention, ttlAfter } from '../sql/retention.js';
import { insertEvents } from '../ingest/writer.js';

/**
 * usage_event_ids (migration 27, sql/datasets/event-ids.ts): every identity stored in usage_events, in small
 * granules, read by the writer's identity lookup instead of usage_events.
 */
const DAY = 86_400_000;

/** Distinct event ids of a tenant in `table`, sorted. */
const idsIn = async (db: Db, table: string, tenantId: string) =>
  (
    await select<{ id: string }>(db, `SELECT DISTINCT event_id AS id FROM ${db.database}.${table} WHERE tenant_id = {t:String} ORDER BY id`, {
      t: tenantId,
    })
  ).map((r) => r.id);

describe('usage_event_ids, the identities the writer looks up', () => {
  it('holds every identity usage_events holds, whatever wrote it', async () => {
    const t = await newTenant();
    const { db } = (await engine()).deps;
    const at = now() - 3_600_000;
    const event = (id: string, quantity = '1') => ({ eventId: id, customerId: 'c', metricName: 'm', quantity, timestamp: at });
    // The API's writer, with a redelivery in the request and one in a later request.
    const first = await t.json('POST', '/v1/events', { body: [event('a'), event('b'), event('a'), event('c')] });
    expect(first.body).toMatchObject({ accepted: 3, duplicates: 1 });
    expect((await t.json('POST', '/v1/events', { body: [event('b'), event('d')] })).body).toMatchObject({ accepted: 1, duplicates: 1 });
    // Corrections write new versions of an identity.
    expect((await t.json('POST', '/v1/events/a/amend', { body: { quantity: '5' } })).status).toBe(200);
    expect((await t.json('POST', '/v1/events/c/void')).status).toBe(200);
    // Any other insert into usage_events (as the Kafka chain's view makes).
    await insertEvents(db, [row(t.tenantId, 'e', at)], 'test');

    const stored = await idsIn(db, TABLES.usageEvents, t.tenantId);
    expect(stored).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(await idsIn(db, TABLES.usageEventIds, t.tenantId)).toEqual(stored);
    // Every stored row's identity, one per row written (versions and all).
    const rows = async (table: string) =>
      (await select<{ n: string }>(db, `SELECT toString(count()) AS n FROM ${db.database}.${table} WHERE tenant_id = {t:String}`, { t: t.tenantId }))[0]!.n;
    expect(await rows(TABLES.usageEventIds)).toBe(await rows(TABLES.usageEventLog));
    // A redelivery of each is a duplicate, and nothing else of the tenant changed.
    const again = await t.json('POST', '/v1/events', { body: stored.map((id) => event(id, '100')) });
    expect(again.body).toMatchObject({ accepted: 0, duplicates: 5 });
    const summary = await t.json('GET', `/v1/usage/summary?from=0&to=${now() + DAY}`);
    expect(summary.body.data).toEqual([{ customerId: 'c', metricName: 'm', quantity: '8', events: 4 }]);
  });

  it('is what the writer reads: an identity there makes an event a duplicate', async () => {
    const t = await newTenant();
    const { db } = (await engine()).deps;
    // Only the index is told of "ghost" (a test's insert; the product writes it only through usage_events).
    await db.client.insert({
      table: `${db.database}.${TABLES.usageEventIds}`,
      values: [{ tenant_id: t.tenantId, event_id: 'ghost', timestamp: now() }],
      format: 'JSONEachRow',
    });
    const at = now() - 60_000;
    const sent = await t.json('POST', '/v1/events', {
      body: ['ghost', 'real'].map((eventId) => ({ eventId, customerId: 'c', metricName: 'm', quantity: '1', timestamp: at })),
    });
    expect(sent.body.results.map((r: { status: string }) => r.status)).toEqual(['duplicate', 'accepted']);
    expect(await idsIn(db, TABLES.usageEvents, t.tenantId)).toEqual(['real']);
    // The server's lookup (bound parameters, per tenant) reads it too.
    const server: Db = { client: db.client, database: db.database };
    const asked = ['ghost', 'real', 'none'].map((event_id) => ({ tenant_id: t.tenantId, event_id }));
    expect((await storedIdentities(server, asked)).map((f) => f.event_id).sort()).toEqual(['ghost', 'real']);
  });

  it('is filled by its migration from the events stored before it, and again without double answers', async () => {
    const db = await databaseBefore(27);
    const at = now() - DAY;
    const before = Array.from({ length: 300 }, (_, i) => row('up', `old-${String(i).padStart(3, '0')}`, at + i));
    await insertEvents(db, before, 'test');
    await insertEvents(db, [row('up', 'old-000', at)], 'test'); // a second copy, as a redelivery through Kafka leaves
    await insertEvents(db, [row('other', 'old-001', at)], 'test');
    expect(await migrate(db, { upTo: 27 })).toEqual([27]); // later migrations are not this test's subject
    const ids = before.map((r) => r.event_id);
    expect(await idsIn(db, TABLES.usageEventIds, 'up')).toEqual(ids);
    expect(await idsIn(db, TABLES.usageEventIds, 'other')).toEqual(['old-001']);
    // Interrupted and run again, it copies everything once more: the lookup still answers each identity once.
    await runMigrationAgain(db, 27);
    const asked = [...ids, 'new-1'].map((event_id) => ({ tenant_id: 'up', event_id }));
    asked.push({ tenant_id: 'other', event_id: 'old-001' }, { tenant_id: 'other', event_id: 'old-002' });
    const found = await storedIdentities(db, asked);
    expect(found.map((f) => `${f.tenant_id}/${f.event_id}`).sort()).toEqual([...ids.map((id) => `up/${id}`), 'other/old-001'].sort());
    // Inserts after the migration reach it through its view.
    await insertEvents(db, [row('up', 'new-1', at)], 'test');
    expect(await idsIn(db, TABLES.usageEventIds, 'up')).toEqual(['new-1', ...ids]);
  });

  it('is deleted by raw retention at the age the events are', async () => {
    const latest = MIGRATIONS[MIGRATIONS.length - 1]!.version;
    const db = await databaseBefore(latest + 1);
    const t0 = now();
    await insertEvents(db, [row('r', 'kept', t0 - 50 * DAY), row('r', 'gone', t0 - 150 * DAY)], 'test');
    expect(await idsIn(db, TABLES.usageEventIds, 'r')).toEqual(['gone', 'kept']);
    // TTLs run on the engine's clock: the offset of the tests' clock from it, as the product passes its own (api/runtime.ts).
    const retention = { rawDays: 100, clockOffsetMs: testClock.offsetMs };
    expect(await applyEventsRetention(db, retention)).toEqual(['ttl', `${TABLES.usageEventLog}.ttl`, `${TABLES.usageEventIds}.ttl`]);
    const ddl = await select<{ ddl: string }>(db, `SELECT create_table_query AS ddl FROM system.tables WHERE database = {d:String} AND name = {n:String}`, {
      d: db.database,
      n: TABLES.usageEventIds,
    });
    expect(ddl[0]!.ddl).toContain(`TTL ${ttlAfter('timestamp', 100, testClock.offsetMs)} SETTINGS`);
    for (const table of [TABLES.usageEvents, TABLES.usageEventIds]) {
      await db.client.command({ query: `OPTIMIZE TABLE ${db.database}.${table} FINAL` });
      expect(await idsIn(db, table, 'r'), table).toEqual(['kept']);
    }
    // Applied only when it changes.
    expect(await applyEventsRetention(db, retention)).toEqual([]);
  });
});
