import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { engine, newTenant, type TestTenant } from './harness.js';
import { exportFile, exportId, writeExport, writeLines } from '../sql/queries/exports.js';

/**
 * Input is stored exactly as sent or refused with a precise error: never
 * rounded, never replaced, never dropped (issue 10, items 4 and 5).
 */
const post = async (t: TestTenant, body: string | Buffer, contentType = 'application/json') => {
  const res = await (
    await engine()
  ).app.request('/v1/events', {
    method: 'POST',
    headers: { authorization: `Bearer ${t.adminKey}`, 'content-type': contentType },
    body: typeof body === 'string' ? body : new Uint8Array(body),
  });
  return { status: res.status, body: (await res.json()) as any };
};
const stored = async (t: TestTenant) =>
  (await t.json('GET', '/v1/events?limit=1000')).body.data as { eventId: string; quantity: string; dimensions: Record<string, string> }[];

describe('ingest keeps input exact', () => {
  it('stores JSON-number quantities beyond 2^53 digit for digit (usage and CloudEvents)', async () => {
    const t = await newTenant();
    const usage = await post(
      t,
      '[{"eventId":"n1","customerId":"c","metricName":"m","quantity":9007199254740993},{"eventId":"n2","customerId":"c","metricName":"m","quantity":12345678901234567890123.5},{"eventId":"n9","customerId":"c","metricName":"m","quantity":12345678901234567890123}]',
    );
    expect(usage.status).toBe(207);
    // an integer literal beyond 64 bits is refused, as the Kafka path refuses it, with the way out
    expect(usage.body.results[2]).toEqual({
      index: 2,
      eventId: 'n9',
      status: 'rejected',
      errors: [{ path: 'quantity', message: expect.stringMatching(/beyond 64 bits.*string/) }],
    });
    const ce = await post(
      t,
      '{"specversion":"1.0","id":"n3","source":"s","type":"m","subject":"c","data":{"quantity":9007199254740993,"size":1.50}}',
      'application/cloudevents+json',
    );
    expect(ce.status).toBe(200);
    const rows = await stored(t);
    expect(rows.map((r) => [r.eventId, r.quantity])).toEqual([
      ['n1', '9007199254740993'],
      ['n2', '12345678901234567890123.5'],
      ['n3', '9007199254740993'],
    ]);
    expect(rows[2]!.dimensions).toEqual({ size: '1.50' });
  });

  it('refuses a body that is not UTF-8 (400) rather than collapsing two ids into one', async () => {
    const t = await newTenant();
    const body = (byte: number) => Buffer.concat([Buffer.from('{"eventId":"u8-'), Buffer.from([byte]), Buffer.from('","customerId":"c","metricName":"m"}')]);
    for (const byte of [0xff, 0xfe]) {
      const res = await post(t, body(byte));
      expect(res.status).toBe(400);
      expect(res.body.error).toMatchObject({ code: 'invalid_utf8', message: 'the body is not valid UTF-8' });
    }
    expect(await stored(t)).toEqual([]);
  });

  it('refuses lone surrogates per event, every time (a redelivery is not "accepted"), and stores the neighbours', async () => {
    const t = await newTenant();
    for (let attempt = 0; attempt < 2; attempt++) {
      const res = await post(
        t,
        '[{"eventId":"dup-\\udfff","customerId":"c","metricName":"m"},{"eventId":"ok","customerId":"p\\ud800","metricName":"m"},{"eventId":"fine","customerId":"c","metricName":"m","dimensions":{"k\\udc00":"v"}},{"eventId":"pair","customerId":"\\ud83d\\ude00","metricName":"m"}]',
      );
      expect(res.status).toBe(207);
      expect(res.body.results.map((r: any) => [r.status, r.errors?.[0]?.path])).toEqual([
        ['rejected', 'eventId'],
        ['rejected', 'customerId'],
        ['rejected', 'dimensions.k\udc00'],
        [attempt === 0 ? 'accepted' : 'duplicate', undefined],
      ]);
      expect(res.body.results[0].errors[0].message).toMatch(/lone UTF-16 surrogate/);
    }
    expect((await stored(t)).map((r) => r.eventId)).toEqual(['pair']);
  });

  it('refuses a "__proto__" dimension key instead of dropping it (usage and CloudEvents), and duplicate keys', async () => {
    const t = await newTenant();
    const usage = await post(t, '{"eventId":"p1","customerId":"c","metricName":"m","dimensions":{"__proto__":{"polluted":"yes"},"region":"eu"}}');
    expect(usage.status).toBe(422);
    expect(usage.body.results[0].errors).toEqual([{ path: 'dimensions.__proto__', message: expect.stringMatching(/reserved/) }]);
    const ce = await post(
      t,
      '{"specversion":"1.0","id":"p2","source":"s","type":"m","subject":"c","data":{"__proto__":"x","region":"eu"}}',
      'application/cloudevents+json',
    );
    expect(ce.status).toBe(422);
    expect(ce.body.results[0].errors).toEqual([{ path: 'data.__proto__', message: expect.stringMatching(/reserved/) }]);
    const twice = await post(t, '{"eventId":"p3","customerId":"c","metricName":"m","dimensions":{"region":"eu","region":"us"}}');
    expect(twice.status).toBe(400);
    expect(twice.body.error.code).toBe('invalid_json');
    expect(await stored(t)).toEqual([]);
  });
});

describe('every text a request carries is Unicode the engine keeps', () => {
  it('refuses invalid UTF-8 in the URL and lone surrogates in JSON bodies with 400, storing nothing', async () => {
    const t = await newTenant();
    const surrogatePath = await t.json('PUT', '/v1/customers/%ED%A0%80', { body: { name: 'x' } });
    expect(surrogatePath.status).toBe(400);
    expect(surrogatePath.body.error.message).toMatch(/UTF-8/);
    expect((await t.json('GET', '/v1/events?customerId=%FF')).status).toBe(400);
    const name = await t.json('PUT', '/v1/customers/ok', { raw: '{"name":"a\\ud800"}', headers: { 'content-type': 'application/json' } });
    expect(name.status).toBe(400);
    expect(name.body.error.details).toEqual([{ path: 'name', message: expect.stringMatching(/lone UTF-16 surrogate/) }]);
    const meter = await t.json('POST', '/v1/meters', {
      raw: '{"key":"k","metricName":"m","aggregation":"SUM","groupBy":["\\udfff"]}',
      headers: { 'content-type': 'application/json' },
    });
    expect(meter.status).toBe(400);
    expect(meter.body.error.details).toEqual([{ path: 'groupBy.0', message: expect.stringMatching(/lone UTF-16 surrogate/) }]);
    expect((await t.json('GET', '/v1/customers')).body.data).toEqual([]);
    expect((await t.json('GET', '/v1/meters')).body.data).toEqual([]);
    // a valid astral character passes, percent-encoded or not
    expect((await t.json('PUT', '/v1/customers/%F0%9F%98%80', { body: { name: '\u{1F600}' } })).status).toBe(201);
  });
});

describe('CSV outputs are safe to open in a spreadsheet and still exact', () => {
  it('meter usage CSV: text cells that start a formula get one leading quote; numbers stay numbers', async () => {
    const t = await newTenant();
    const T = Date.now() - 3_600_000;
    await t.json('POST', '/v1/meters', { body: { key: 'calls', metricName: 'm', aggregation: 'SUM', groupBy: ['region'] } });
    const sent = await t.json('POST', '/v1/events', {
      body: [
        { eventId: '1', customerId: '=1+2', metricName: 'm', timestamp: T, quantity: '2.5', dimensions: { region: '@x' } },
        { eventId: '2', customerId: "'q", metricName: 'm', timestamp: T, quantity: '1', dimensions: { region: 'eu' } },
        { eventId: '3', customerId: 'plain', metricName: 'm', timestamp: T, quantity: '4', dimensions: { region: '-eu' } },
      ],
    });
    expect(sent.status).toBe(200);
    const res = await t.request('GET', `/v1/meters/calls/usage?from=${T - 1}&to=${T + 1}&granularity=total&groupBy=customerId&groupBy=region`, {
      headers: { accept: 'text/csv' },
    });
    const lines = (await res.text())
      .trimEnd()
      .split('\n')
      .map((l) => l.split(',').slice(2));
    expect(lines).toEqual([
      ['customerId', 'region', 'value'],
      ["''q", 'eu', '1'],
      ["'=1+2", "'@x", '2.5'],
      ['plain', "'-eu", '4'],
    ]);
  });

  it('export CSV: customer ids neutralised, a negative adjustment stays a number, JSONL (which the checksum covers) unescaped', async () => {
    const t = await newTenant();
    const { db } = (await engine()).deps;
    const start = Date.UTC(2026, 0, 1);
    const end = Date.UTC(2026, 1, 1);
    await writeLines(db, t.tenantId, 1, [
      { customerId: '=HYPERLINK(1)', meterKey: 'calls', periodStartMs: start, periodEndMs: end, kind: 'usage', value: '10', events: 2 },
      { customerId: '-neg', meterKey: 'calls', periodStartMs: start, periodEndMs: end, kind: 'adjustment', value: '-5.5', events: -1 },
      { customerId: 'plain', meterKey: 'calls', periodStartMs: start, periodEndMs: end, kind: 'usage', value: '1', events: 1 },
    ]);
    const jsonl = await exportFile(db, t.tenantId, 1, 'jsonl');
    await writeExport(db, t.tenantId, {
      sequence: 1,
      createdAtMs: end,
      cutoffMs: end,
      lineCount: 3,
      checksum: createHash('sha256').update(jsonl).digest('hex'),
      previousChecksum: '',
    });
    const id = exportId(t.tenantId, 1);
    const csv = await (await t.request('GET', `/v1/billing/exports/${id}/lines?format=csv`)).text();
    const rows = csv
      .trimEnd()
      .split('\n')
      .slice(1)
      .map((l) => l.split(','));
    expect(rows.map((r) => [r[0], r[4], r[5], r[6]])).toEqual([
      ['"\'-neg"', '"adjustment"', '-5.5', '-1'],
      ['"\'=HYPERLINK(1)"', '"usage"', '10', '2'],
      ['"plain"', '"usage"', '1', '1'],
    ]);
    const served = await (await t.request('GET', `/v1/billing/exports/${id}/lines?format=jsonl`)).text();
    expect(served).toBe(jsonl.toString('utf8'));
    expect(
      served
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l).customerId),
    ).toEqual(['-neg', '=HYPERLINK(1)', 'plain']);
  });
});
