import { existsSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { now } from './clock.js';
import { engine } from './harness.js';
import { analystTenant, type AnalystTenant } from './analyst-fixture.js';

/**
 * Escape attempts: each is refused (400) or stopped by a limit (422), reads
 * nothing of another tenant and writes nothing. `DB` stands for meterhouse's
 * database, `OUTFILE` for a path that must never be created.
 */
const OUTFILE = `/tmp/meterhouse-escape-${process.pid}`;
type Attempt = [name: string, query: string, code: 'sql_refused' | 'sql_error' | 'sql_limit_exceeded', params?: Record<string, unknown>];
const ATTEMPTS: Attempt[] = [
  ['two statements', 'SELECT 1; DROP TABLE events', 'sql_refused'],
  ['two selects', 'SELECT 1; SELECT 2', 'sql_refused'],
  ['comment hides the second statement', 'SELECT 1 -- x\n; SELECT * FROM system.tables', 'sql_refused'],
  ['string escape then a statement', "SELECT '\\''; DROP TABLE events; --'", 'sql_refused'],
  ['block comment around a statement end', 'SELECT 1 /* */; /* */ DROP TABLE events', 'sql_refused'],
  ['DROP', 'DROP TABLE events', 'sql_refused'],
  ['TRUNCATE', 'TRUNCATE TABLE events', 'sql_refused'],
  ['INSERT', 'INSERT INTO events SELECT * FROM events', 'sql_refused'],
  ['CREATE', 'CREATE TABLE x (a Int8) ENGINE = Memory', 'sql_refused'],
  ['ALTER', 'ALTER TABLE events DELETE WHERE 1', 'sql_refused'],
  ['SET', 'SET readonly = 0', 'sql_refused'],
  ['SYSTEM', 'SYSTEM SHUTDOWN', 'sql_refused'],
  ['KILL', 'KILL QUERY WHERE 1', 'sql_refused'],
  ['OPTIMIZE', 'OPTIMIZE TABLE DB.usage_events FINAL', 'sql_refused'],
  ['SHOW TABLES', 'SHOW TABLES FROM DB', 'sql_refused'],
  ['SHOW CREATE', 'SHOW CREATE TABLE DB.usage_events', 'sql_refused'],
  ['DESCRIBE', 'DESCRIBE TABLE DB.usage_events', 'sql_refused'],
  ['EXPLAIN', "EXPLAIN PLAN SELECT * FROM url('http://127.0.0.1:9/', CSV, 'a String')", 'sql_refused'],
  ['EXPLAIN in a subquery', 'SELECT * FROM (EXPLAIN AST SELECT 1)', 'sql_refused'],
  ['SETTINGS readonly=0', 'SELECT * FROM events SETTINGS readonly = 0', 'sql_refused'],
  ['SETTINGS in a subquery', 'SELECT * FROM (SELECT * FROM events SETTINGS readonly = 0)', 'sql_refused'],
  ['SETTINGS in a scalar subquery', 'SELECT (SELECT count() FROM events SETTINGS max_rows_to_read = 0)', 'sql_refused'],
  ['SETTINGS in a UNION branch', 'SELECT 1 SETTINGS readonly = 0 UNION ALL SELECT 2', 'sql_refused'],
  ['additional_table_filters', "SELECT * FROM events SETTINGS additional_table_filters = {'events': '1'}", 'sql_refused'],
  ['FORMAT', 'SELECT 1 FORMAT CSV', 'sql_refused'],
  ['INTO OUTFILE', `SELECT 1 INTO OUTFILE '${OUTFILE}'`, 'sql_refused'],
  ['INTO OUTFILE with FORMAT', `SELECT * FROM events INTO OUTFILE '${OUTFILE}' FORMAT CSV`, 'sql_refused'],
  ['scalar file()', "SELECT file('/etc/passwd')", 'sql_refused'],
  ['scalar file() of the engine config', "SELECT file('.meterhouse/engine.xml')", 'sql_refused'],
  ['backquoted file()', "SELECT `file`('/etc/passwd')", 'sql_refused'],
  ['file() in a CTE', "WITH x AS (SELECT file('/etc/passwd') AS f) SELECT * FROM x", 'sql_refused'],
  ['table function file', "SELECT * FROM file('/etc/passwd', 'LineAsString')", 'sql_refused'],
  ['url', "SELECT * FROM url('http://127.0.0.1:9/', CSV, 'a String')", 'sql_refused'],
  ['s3', "SELECT * FROM s3('http://127.0.0.1:9/b/k.csv', 'CSV')", 'sql_refused'],
  ['remote', "SELECT * FROM remote('127.0.0.1', 'DB', 'usage_events')", 'sql_refused'],
  ['remoteSecure', "SELECT * FROM remoteSecure('127.0.0.1', system.one)", 'sql_refused'],
  ['cluster', "SELECT * FROM cluster('default', DB.usage_events)", 'sql_refused'],
  ['merge across tenants', "SELECT * FROM merge('DB', '^usage')", 'sql_refused'],
  ['view()', 'SELECT * FROM view(SELECT * FROM DB.usage_events)', 'sql_refused'],
  ['input()', "SELECT * FROM input('a String')", 'sql_refused'],
  ['executable', "SELECT * FROM executable('x.sh', 'TSV', 'a String')", 'sql_refused'],
  ['dictionary()', "SELECT * FROM dictionary('d')", 'sql_refused'],
  ['mergeTreeIndex', "SELECT * FROM mergeTreeIndex('DB', 'usage_events')", 'sql_refused'],
  ['loop', 'SELECT * FROM loop(events) LIMIT 1', 'sql_refused'],
  ['qualified storage table', 'SELECT * FROM DB.usage_events', 'sql_refused'],
  ['backquoted qualified name', 'SELECT * FROM `DB`.`usage_events`', 'sql_refused'],
  ['double-quoted qualified name', 'SELECT * FROM "DB"."usage_events"', 'sql_refused'],
  ['one backquoted name holding a dot', 'SELECT * FROM `DB.usage_events`', 'sql_refused'],
  ['alias that mimics the AST', 'SELECT * FROM `events (alias z) x`.usage_events', 'sql_refused'],
  ['column alias that mimics the AST', 'SELECT event_id AS `x) (alias y` FROM DB.usage_events', 'sql_refused'],
  ['homoglyph table name', 'SELECT * FROM еvents', 'sql_refused'],
  ['system table', 'SELECT * FROM system.tables', 'sql_refused'],
  ['system functions', 'SELECT * FROM system.functions', 'sql_refused'],
  ['INFORMATION_SCHEMA', 'SELECT * FROM INFORMATION_SCHEMA.TABLES', 'sql_refused'],
  ['information_schema lower case', 'SELECT * FROM information_schema.columns', 'sql_refused'],
  ['a CTE that shadows a virtual table', 'WITH events AS (SELECT * FROM DB.usage_events) SELECT * FROM events', 'sql_refused'],
  ['a CTE over a system table', 'WITH x AS (SELECT * FROM system.tables) SELECT * FROM x', 'sql_refused'],
  ['UNION with a storage table', "SELECT event_id FROM events WHERE customer_id = '' OR 1 = 1 UNION ALL SELECT event_id FROM DB.usage_events", 'sql_refused'],
  ['IN db.table', 'SELECT * FROM events WHERE event_id IN DB.usage_events', 'sql_refused'],
  ['GLOBAL IN db.table', 'SELECT * FROM events WHERE customer_id GLOBAL IN DB.billing_customers', 'sql_refused'],
  ['NOT IN a table name', 'SELECT * FROM events WHERE event_id NOT IN usage_events', 'sql_refused'],
  ['subquery over the tenants table', 'SELECT * FROM events WHERE customer_id IN (SELECT tenant_id FROM DB.tenants)', 'sql_refused'],
  ['storage name without database', 'SELECT * FROM usage_events', 'sql_error'],
  ['tenants without database', 'SELECT * FROM tenants', 'sql_error'],
  ['api_keys without database', 'SELECT * FROM api_keys', 'sql_error'],
  ['dictGet', "SELECT dictGet('d', 'x', toUInt64(1))", 'sql_refused'],
  ['joinGet', "SELECT joinGet('j', 'x', 1)", 'sql_refused'],
  ['getSetting', "SELECT getSetting('max_memory_usage')", 'sql_refused'],
  ['getServerSetting', "SELECT getServerSetting('path')", 'sql_refused'],
  ['currentDatabase', 'SELECT currentDatabase()', 'sql_refused'],
  ['hostName', 'SELECT hostName()', 'sql_refused'],
  ['version', 'SELECT version()', 'sql_refused'],
  ['@@version', 'SELECT @@version', 'sql_refused'],
  ['sleep', 'SELECT sleep(3)', 'sql_refused'],
  ['sleepEachRow', 'SELECT sleepEachRow(1) FROM numbers(10)', 'sql_refused'],
  ['addressToSymbol', 'SELECT addressToSymbol(toUInt64(1))', 'sql_refused'],
  ['hasColumnInTable', "SELECT hasColumnInTable('DB', 'usage_events', 'tenant_id')", 'sql_refused'],
  ['showCertificate', 'SELECT showCertificate()', 'sql_refused'],
  ['formatQuery', "SELECT formatQuery('SELECT 1')", 'sql_refused'],
  ['APPLY hides a function', 'SELECT * APPLY(file) FROM events', 'sql_refused'],
  ['Identifier parameter naming a storage table', 'SELECT * FROM {t:Identifier}', 'sql_refused', { t: 'DB.usage_events' }],
  ['Identifier parameter naming a system table', 'SELECT * FROM {t:Identifier}', 'sql_refused', { t: 'system.tables' }],
  ["a parameter named like the guard's tenant", 'SELECT count() FROM events WHERE 1 = {mh_tenant:String}', 'sql_refused', { mh_tenant: 'other' }],
  ["a parameter named like the guard's text", 'SELECT {mh_sql:String}', 'sql_refused', { mh_sql: 'x' }],
  ["the guard's tenant parameter, unbound", 'SELECT {mh_tenant:String}', 'sql_refused'],
  ['a scan of 1e12 rows', 'SELECT sum(number) FROM numbers(1000000000000)', 'sql_limit_exceeded'],
  ['a scan of 1e12 rows, multithreaded', 'SELECT count() FROM numbers_mt(1000000000000) WHERE number % 7 = 3', 'sql_limit_exceeded'],
];

describe('analyst SQL escape corpus', () => {
  let a: AnalystTenant;
  let other: AnalystTenant;
  const marker = `SECRET-${process.pid}`;
  let database = '';
  let tablesBefore = '';

  beforeAll(async () => {
    const r = await engine();
    database = r.deps.db.database;
    a = await analystTenant();
    other = await analystTenant();
    expect(
      (await a.json('POST', '/v1/events', { body: [{ eventId: 'e1', customerId: 'c1', metricName: 'm', timestamp: now() - 3_600_000, quantity: 1 }] })).status,
    ).toBe(200);
    expect(
      (await other.json('POST', '/v1/events', { body: [{ eventId: 'e1', customerId: marker, metricName: 'm', timestamp: now() - 3_600_000, quantity: 7 }] }))
        .status,
    ).toBe(200);
    // Scans are bounded: a small rows limit for this tenant makes the 1e12 scans fail at once.
    await r.deps.access.tenants.update(a.tenantId, { limits: { sqlMaxRowsToRead: 10_000_000, sqlMaxExecutionSeconds: 5 } });
    tablesBefore = await tables();
  });

  async function tables() {
    const r = await engine();
    const res = await r.deps.db.client.query({
      query: 'SELECT groupArray(name) AS t FROM (SELECT name FROM system.tables WHERE database LIKE {db:String} ORDER BY name)',
      query_params: { db: `${database}%` },
      format: 'JSONEachRow',
    });
    return JSON.stringify(await res.json());
  }

  it(`holds at least 60 attempts`, () => expect(ATTEMPTS.length).toBeGreaterThanOrEqual(60));

  it.each(ATTEMPTS)('refuses %s', async (_name, query, code, params) => {
    const res = await a.sql({
      query: query.replaceAll('DB', database),
      ...(params ? { params: JSON.parse(JSON.stringify(params).replaceAll('DB', database)) } : {}),
    });
    if (process.env.SHOW) console.log(_name, '=>', res.body.error?.message);
    expect(res.status, JSON.stringify(res.body)).toBe(code === 'sql_limit_exceeded' ? 422 : 400);
    expect(res.body.error.code, JSON.stringify(res.body)).toBe(code);
    expect(res.body.error.message.length).toBeGreaterThan(0);
    const text = JSON.stringify(res.body);
    expect(text).not.toContain(marker);
    expect(text).not.toContain(other.tenantId);
    expect(text).not.toMatch(/engine\.xml|\/tmp\/meterhouse-test-|secret/i);
  });

  it('wrote nothing: no file, no table, the data still there; the history says refused with nothing read', async () => {
    expect(existsSync(OUTFILE)).toBe(false);
    expect(await tables()).toBe(tablesBefore);
    expect((await a.sql({ query: 'SELECT count() AS n FROM events' })).body.data).toEqual([{ n: '1' }]);
    const history = (await a.json('GET', `/v1/sql/history?limit=1000`, { key: a.sqlKey })).body.data as { status: string; rowsRead: number; query: string }[];
    const refused = history.filter((h) => h.status === 'refused');
    expect(refused.length).toBe(ATTEMPTS.filter(([, , code]) => code === 'sql_refused').length);
    for (const h of refused) expect(h.rowsRead).toBe(0);
  });
});
