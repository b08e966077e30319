import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { engine, newTenant } from './harness.js';
import { normaliseEvent } from '../ingest/normalise.js';
import { parseJsonBody } from '../ingest/json-body.js';
import { validatedEventsSelect } from '../ingest/kafka-validation.js';
import { VALIDATED_COLUMNS } from '../sql/datasets/kafka-ingest.js';
import { runQuery } from '../sql/query.js';
import { TABLES } from '../sql/names.js';
import { maxEventAgeMs, tooOldMessage } from '../domain/retention.js';

/**
 * A message produced straight into the topic must get the same outcome as the
 * same event sent to the API. One corpus goes through both validators: zod in
 * JS (ingest/normalise.ts) and the SQL of the Kafka views
 * (ingest/kafka-validation.ts), run here on the real engine.
 */
const RECEIVED = Date.UTC(2026, 2, 8, 12, 0, 0);
const SKEW_MS = 300_000;
/** RAW_RETENTION_DAYS=1000: events up to 969 days old are accepted (domain/retention.ts). */
const MAX_AGE_MS = maxEventAgeMs(1000)!;
const astral = '\u{1F600}';
const base = { eventId: 'e1', customerId: 'c1', metricName: 'api.calls' };

const corpus: unknown[] = [
  base,
  {
    ...base,
    quantity: '12.50',
    timestamp: '2026-03-08T01:59:59.123Z',
    productId: 'p',
    dimensions: { region: 'eu', tier: '' },
    metadata: { source: 's', version: '1', requestId: 'r' },
  },
  { ...base, quantity: 3 },
  { ...base, quantity: 0.25 },
  { ...base, quantity: 1.5e-7 },
  { ...base, quantity: 1e-10 },
  { ...base, quantity: -0 },
  { ...base, quantity: '-0' },
  { ...base, quantity: '-1' },
  { ...base, quantity: '+7' },
  { ...base, quantity: '007.100' },
  { ...base, quantity: '1e3' },
  { ...base, quantity: '0.1234567891' },
  { ...base, quantity: '0.123456789000' },
  { ...base, quantity: '1'.repeat(29) },
  { ...base, quantity: '1'.repeat(30) },
  { ...base, quantity: `${'9'.repeat(29)}.999999999` },
  { ...base, quantity: `${'9'.repeat(29)}.9999999990` },
  { ...base, quantity: `1${'0'.repeat(29)}` },
  { ...base, quantity: `${'0'.repeat(40)}7` },
  { ...base, quantity: ' 1' },
  { ...base, quantity: '' },
  { ...base, quantity: null },
  { ...base, quantity: true },
  { ...base, quantity: [1] },
  { ...base, timestamp: RECEIVED },
  { ...base, timestamp: String(RECEIVED) },
  { ...base, timestamp: RECEIVED + 0.5 },
  { ...base, timestamp: 1.7e12 },
  { ...base, timestamp: RECEIVED + SKEW_MS + 1 },
  { ...base, timestamp: RECEIVED + SKEW_MS },
  { ...base, timestamp: -1 },
  { ...base, timestamp: 0 },
  { ...base, timestamp: '2026-03-08T07:00:00+05:30' },
  { ...base, timestamp: '2026-03-08T07:00+05:30' },
  { ...base, timestamp: '2026-03-08 07:00:00Z' },
  { ...base, timestamp: '2026-02-29T00:00:00Z' },
  { ...base, timestamp: '2028-02-29T00:00:00Z' },
  { ...base, timestamp: '2026-03-08T07:00:00' },
  { ...base, timestamp: '1969-12-31T23:59:59Z' },
  { ...base, timestamp: '9999-01-01T00:00:00Z' },
  { ...base, timestamp: '99999999999999999999' },
  { ...base, timestamp: null },
  { ...base, timestamp: {} },
  { customerId: 'c1', metricName: 'm' },
  { eventId: 'e1', metricName: 'm' },
  { eventId: 'e1', customerId: 'c1' },
  { ...base, eventId: '' },
  { ...base, eventId: 'x'.repeat(256) },
  { ...base, eventId: 'x'.repeat(257) },
  { ...base, eventId: astral.repeat(128) },
  { ...base, eventId: astral.repeat(129) },
  { ...base, eventId: 'a\u0001b' },
  { ...base, eventId: 7 },
  { ...base, customerId: null },
  { ...base, productId: '' },
  { ...base, productId: 5 },
  { ...base, metricName: 'bad name' },
  { ...base, metricName: '_x' },
  { ...base, metricName: 'a:b/c-d.e_f' },
  { ...base, metricName: 'm'.repeat(129) },
  { ...base, extra: 1 },
  { ...base, Quantity: '1' },
  { ...base, dimensions: { a: 'x'.repeat(1024) } },
  { ...base, dimensions: { a: 'x'.repeat(1025) } },
  { ...base, dimensions: { '': 'x' } },
  { ...base, dimensions: { ['k'.repeat(129)]: 'x' } },
  { ...base, dimensions: { a: 1 } },
  { ...base, dimensions: { a: null } },
  { ...base, dimensions: [] },
  { ...base, dimensions: { a: 'x\ny' } },
  { ...base, dimensions: Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`k${i}`, 'v'])) },
  { ...base, dimensions: Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`k${i}`, 'v'])) },
  { ...base, metadata: { source: 's', other: 'x' } },
  { ...base, metadata: 'x' },
  { ...base, metadata: { version: '' } },
  { ...base, metadata: { requestId: 'r'.repeat(257) } },
  { ...base, timestamp: RECEIVED - MAX_AGE_MS },
  { ...base, timestamp: RECEIVED - MAX_AGE_MS - 1 },
  { ...base, timestamp: new Date(RECEIVED - MAX_AGE_MS - 1).toISOString() },
  [base],
  'text',
  42,
  null,
];

/**
 * Messages as bytes, for what a JS value cannot spell: JSON numbers beyond
 * 2^53, lone surrogate escapes, "__proto__" and repeated keys, invalid UTF-8.
 * The API side parses them as it parses a request body.
 */
const event = (fields: string) => `{"eventId":"e1","customerId":"c1","metricName":"api.calls"${fields}}`;
const rawCorpus: Buffer[] = [
  ...[
    '9007199254740993',
    '18446744073709551615',
    '18446744073709551616',
    '-9223372036854775809',
    '12345678901234567890123',
    '12345678901234567890123.5',
    '1.50',
    '9007199254740993.0',
    '0.1000000000000000000001',
    '123456789012345678.25',
    '1.2345678901234567891e5',
    '2.5e-9',
    '1e3',
    '12.5E+2',
    '1.5e-7',
    '99999999999999999999999999999.999999999',
    '1e-10',
    '-0',
    '0.30000000000000004',
    '1e400',
  ].map((q) => event(`,"quantity":${q}`)),
  '{"eventId":"dup-\\udfff","customerId":"c1","metricName":"api.calls"}',
  event(',"productId":"p\\ud800"'),
  '{"eventId":"e1","customerId":"\\ud83d\\ude00","metricName":"api.calls"}',
  event(',"dimensions":{"k\\udc00":"v"}'),
  event(',"dimensions":{"k":"v\\udfff"}'),
  event(',"dimensions":{"k":"\\ud800"}'),
  event(',"metadata":{"source":"s\\udc00"}'),
  event(',"dimensions":{"__proto__":{"polluted":"yes"},"region":"eu"}'),
  event(',"dimensions":{"__proto__":"x"}'),
  event(',"dimensions":{"region":"eu","region":"us"}'),
  event(',"metadata":{"source":"a","source":"b"}'),
  '{"eventId":"e1","eventId":"e2","customerId":"c1","metricName":"api.calls"}',
  '{"eventId":"e1","eventId":"e1","customerId":"c1","metricName":"api.calls"}',
  event(',"dimensions":{"region":"eu","region":"eu"}'),
  event(`,"dimensions":{"${astral.repeat(128)}":"${astral.repeat(1024)}"},"metadata":{"source":"${astral.repeat(256)}"}`),
  event(`,"dimensions":{"${astral.repeat(129)}":"v"}`),
  event(`,"dimensions":{"k":"${astral.repeat(1025)}"}`),
  event(`,"metadata":{"source":"${astral.repeat(257)}"}`),
  // Spacing, nulls, every JSON type where a string, number or object belongs, escaped keys and values.
  '{ "eventId" : "e1" , "customerId" : "c1" , "metricName" : "api.calls" , "quantity" : 12.5 , "timestamp" : 1.7e12 }',
  '{"ev\\u0065ntId":"e1","customerId":"c1","metricName":"api.calls"}',
  '{"eventId":"e1","customerId":"c1","metricName":"api.calls","metadata":{"sour\\u0063e":"x"}}',
  '{"eventId":"\\u00e9\\u4e2d\\ud83d\\ude00","customerId":"c\\/1","metricName":"api.calls"}',
  event(',"metadata":null'),
  event(',"dimensions":null'),
  event(',"metadata":{}'),
  event(',"dimensions":{}'),
  event(',"timestamp":true'),
  event(',"timestamp":-5'),
  event(',"timestamp":[1]'),
  event(',"timestamp":"1790756914545"'),
  event(',"timestamp":1790756914545.0'),
  event(',"quantity":{"a":1}'),
  event(',"quantity":false'),
  event(',"productId":null'),
  event(',"metadata":{"source":null,"version":5,"requestId":["x"]}'),
  event(',"metadata":{"source":"a\\nb"}'),
  event(',"dimensions":{"a":"b","c":{"d":"e"}}'),
  event(',"dimensions":{"a\\"b":"c\\\\d"}'),
  event(',"quantity":"1","quantity":"1"'),
  event(',"quantity":"1","quantity":"2"'),
].map((text) => Buffer.from(text, 'utf8'));
rawCorpus.push(Buffer.concat([Buffer.from('{"eventId":"u8-'), Buffer.from([0xff]), Buffer.from('","customerId":"c1","metricName":"api.calls"}')]));

/**
 * The Kafka check over the messages bound as {messages:Array(String)}, each one's bytes in hex (so a message's bytes
 * reach the engine exactly, invalid UTF-8 included), message n as partition n, all received at RECEIVED.
 */
const checkedMessages = (database: string) =>
  validatedEventsSelect(
    `(SELECT unhex(hex_message) AS message, 'parity' AS topic, toInt64(n) AS partition, toInt64(0) AS offset, fromUnixTimestamp64Milli(toInt64(${RECEIVED}), 'UTC') AS message_time, '' AS kafka_error
      FROM (SELECT arrayJoin(arrayEnumerate({messages:Array(String)})) AS n, {messages:Array(String)}[n] AS hex_message))`,
    { tenantsTable: `${database}.${TABLES.tenants}`, maxFutureSkewMs: SKEW_MS, maxAgeMs: MAX_AGE_MS },
  );

describe('Kafka message validation (SQL) agrees with the API (zod)', () => {
  it('gives every message of the corpus the same outcome and the same stored values', async () => {
    const r = await engine();
    const t = await newTenant();
    const { db } = r.deps;
    const withTenant = (bytes: Buffer) => Buffer.concat([Buffer.from(`{"tenantId":${JSON.stringify(t.tenantId)},`), bytes.subarray(1)]);
    const messages = [
      ...corpus.map((event) =>
        Buffer.from(JSON.stringify(typeof event === 'object' && event !== null && !Array.isArray(event) ? { tenantId: t.tenantId, ...event } : event)),
      ),
      ...rawCorpus.map(withTenant),
      ...[
        '{"tenantId": "x", ', // not JSON
        JSON.stringify({ ...base }), // no tenant
        JSON.stringify({ ...base, tenantId: 'no-such-tenant' }),
        JSON.stringify({ ...base, tenantId: 5 }),
      ].map((m) => Buffer.from(m)),
    ].map((bytes) => bytes.toString('hex')); // hex: a message's bytes reach the engine exactly, invalid UTF-8 included
    const select = checkedMessages(db.database);
    const rows = await runQuery(
      db,
      'test.validation_parity',
      `SELECT partition, error, event_id, customer_id, product_id, metric_name, toUnixTimestamp64Milli(timestamp) AS ts, toString(quantity) AS quantity, dimensions, source, source_version, request_id
       FROM (${select}) ORDER BY partition`,
      { messages },
      z.object({
        partition: z.coerce.number(),
        error: z.string(),
        event_id: z.string(),
        customer_id: z.string(),
        product_id: z.string(),
        metric_name: z.string(),
        ts: z.coerce.number(),
        quantity: z.string(),
        dimensions: z.record(z.string(), z.string()),
        source: z.string(),
        source_version: z.string(),
        request_id: z.string(),
      }),
    );
    expect(rows).toHaveLength(messages.length);

    const ctx = { tenantId: t.tenantId, receivedAtMs: RECEIVED, maxFutureSkewMs: SKEW_MS, maxAgeMs: MAX_AGE_MS, format: 'usage' as const };
    let valid = 0;
    const inputs: { label: string; js: ReturnType<typeof normaliseEvent> | { row?: undefined; errors: string } }[] = [
      ...corpus.map((event, i) => ({ label: JSON.stringify(event), js: normaliseEvent(event, i, ctx) })),
      ...rawCorpus.map((bytes, i) => {
        const body = parseJsonBody(bytes);
        return { label: bytes.toString('utf8'), js: body.ok ? normaliseEvent(body.value, i, ctx) : { errors: body.message } };
      }),
    ];
    inputs.forEach(({ label: input, js }, i) => {
      const sql = rows[i]!;
      const label = `#${i} ${input.slice(0, 120)} -> sql error "${sql.error}", js ${JSON.stringify(js.errors ?? 'valid')}`;
      expect(sql.error === '', label).toBe(js.row !== undefined);
      if (!js.row) return;
      valid++;
      // The stored values agree too (the decimal in its canonical text, the dimension map in key order).
      expect(
        {
          id: sql.event_id,
          c: sql.customer_id,
          p: sql.product_id,
          m: sql.metric_name,
          ts: sql.ts,
          q: sql.quantity,
          d: sql.dimensions,
          s: [sql.source, sql.source_version, sql.request_id],
        },
        label,
      ).toEqual({
        id: js.row.event_id,
        c: js.row.customer_id,
        p: js.row.product_id,
        m: js.row.metric_name,
        ts: js.row.timestamp,
        q: js.row.quantity,
        d: js.row.dimensions,
        s: [js.row.source, js.row.source_version, js.row.request_id],
      });
    });
    expect(valid).toBeGreaterThan(25);
    // Past retention: the same per-event error on both paths (a dead letter through Kafka).
    const tooOld = corpus.findIndex((e) => (e as { timestamp?: unknown }).timestamp === RECEIVED - MAX_AGE_MS - 1);
    expect(normaliseEvent(corpus[tooOld], tooOld, ctx).errors).toEqual([{ path: 'timestamp', message: tooOldMessage(MAX_AGE_MS) }]);
    expect(rows[tooOld]!.error).toBe(`timestamp: ${tooOldMessage(MAX_AGE_MS)}`);
    const tail = rows.slice(inputs.length).map((r) => r.error);
    expect(tail).toEqual(['invalid JSON', 'tenantId: is required', 'tenantId: is not a known tenant', 'tenantId: must be a string']);
  });

  it("names each field's wrong JSON type, and every failed check, in the dead letter's error", async () => {
    const r = await engine();
    const t = await newTenant();
    const { db } = r.deps;
    const cases: [string, string][] = [
      [',"timestamp":null', 'timestamp: must be a number or a string'],
      [',"timestamp":true', 'timestamp: must be a number or a string'],
      [',"timestamp":[1]', 'timestamp: must be a number or a string'],
      [',"timestamp":{}', 'timestamp: must be a number or a string'],
      [',"quantity":null', 'quantity: must be a number or a string'],
      [',"quantity":false', 'quantity: must be a number or a string'],
      [',"quantity":{"a":1}', 'quantity: must be a number or a string'],
      [',"quantity":"1e3"', 'quantity: must be a decimal number such as "12" or "0.25" (no exponent, no spaces)'],
      [',"productId":null', 'productId: must be a string'],
      [',"productId":-5', 'productId: must be a string'],
      [',"productId":""', 'productId: must not be empty'],
      [',"dimensions":null', 'dimensions: must be an object'],
      [',"dimensions":["a"]', 'dimensions: must be an object'],
      [',"dimensions":{"a":{"b":"c"}}', 'dimensions.a: must be a string'],
      [',"metadata":"x"', 'metadata: must be an object'],
      [
        ',"metadata":{"source":true,"version":1.5,"requestId":"r","x":"y"}',
        'metadata.x: is not a field of the event contract; metadata.source: must be a string; metadata.version: must be a string',
      ],
      [',"other":1,"Quantity":"1"', 'other: is not a field of the event contract; Quantity: is not a field of the event contract'],
      [',"timestamp":"soon"', 'timestamp: is not a valid instant (epoch milliseconds up to 2^53, or an RFC 3339 date-time with offset)'],
      ['', ''],
      [',"metadata":{},"dimensions":{},"productId":"p","timestamp":1.7e12,"quantity":12.5', ''],
    ];
    const messages = cases.map(([fields]) => `{"tenantId":${JSON.stringify(t.tenantId)},"eventId":"e1","customerId":"c1","metricName":"api.calls"${fields}}`);
    const rows = await runQuery(
      db,
      'test.validation_types',
      `SELECT error FROM (${checkedMessages(db.database)}) ORDER BY partition`,
      { messages: messages.map((m) => Buffer.from(m).toString('hex')) },
      z.object({ error: z.string() }),
    );
    expect(rows.map((row, i) => [messages[i], row.error])).toEqual(cases.map(([, error], i) => [messages[i], error]));
  });

  it('yields the columns of usage_events_validated with their types, so the chain stores what it checked without a cast', async () => {
    const r = await engine();
    const { db } = r.deps;
    const select = validatedEventsSelect(`${db.database}.${TABLES.usageEventsIncoming}`, {
      tenantsTable: `${db.database}.${TABLES.tenants}`,
      maxFutureSkewMs: SKEW_MS,
      maxAgeMs: MAX_AGE_MS,
    });
    const described = await runQuery(db, 'test.validated_columns', `DESCRIBE (${select})`, {}, z.looseObject({ name: z.string(), type: z.string() }));
    expect(described.map((c) => [c.name, c.type])).toEqual(VALIDATED_COLUMNS.map(([name, type]) => [name, type]));
  });
});
