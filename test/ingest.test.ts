import { describe, expect, it } from 'vitest';
import { now } from './clock.js';
import { ALL_TIME, newTenant } from './harness.js';

const ev = (eventId: string, extra: Record<string, unknown> = {}) => ({ eventId, customerId: 'c1', metricName: 'api.calls', ...extra });

describe('POST /v1/events', () => {
  it('takes one event, an array, or { events } and answers per event in input order', async () => {
    const t = await newTenant();
    const one = await t.json('POST', '/v1/events', { body: ev('a') });
    expect(one.status).toBe(200);
    expect(one.body).toEqual({ results: [{ index: 0, eventId: 'a', status: 'accepted' }], accepted: 1, duplicates: 0, rejected: 0 });

    const arr = await t.json('POST', '/v1/events', { body: [ev('b'), ev('c')] });
    expect(arr.body.results.map((r: any) => [r.index, r.eventId, r.status])).toEqual([
      [0, 'b', 'accepted'],
      [1, 'c', 'accepted'],
    ]);

    const wrapped = await t.json('POST', '/v1/events', { body: { events: [ev('d'), ev('a')] } });
    expect(wrapped.status).toBe(200);
    expect(wrapped.body.results.map((r: any) => r.status)).toEqual(['accepted', 'duplicate']);
    expect(wrapped.body).toMatchObject({ accepted: 1, duplicates: 1, rejected: 0 });

    const summary = await t.json('GET', `/v1/usage/summary?${ALL_TIME}`);
    expect(summary.body.data).toEqual([{ customerId: 'c1', metricName: 'api.calls', quantity: '4', events: 4 }]);
  });

  it('stores the valid events of a mixed request (207) and explains each rejection', async () => {
    const t = await newTenant();
    const res = await t.json('POST', '/v1/events', {
      body: [ev('ok1', { quantity: '2' }), ev('bad1', { quantity: 'two' }), { eventId: 'bad2', metricName: 'm' }, ev('ok2')],
    });
    expect(res.status).toBe(207);
    expect(res.body.results).toEqual([
      { index: 0, eventId: 'ok1', status: 'accepted' },
      { index: 1, eventId: 'bad1', status: 'rejected', errors: [{ path: 'quantity', message: expect.stringMatching(/decimal/) }] },
      { index: 2, eventId: 'bad2', status: 'rejected', errors: [{ path: 'customerId', message: 'is required' }] },
      { index: 3, eventId: 'ok2', status: 'accepted' },
    ]);
    const summary = await t.json('GET', `/v1/usage/summary?${ALL_TIME}`);
    expect(summary.body.data).toEqual([{ customerId: 'c1', metricName: 'api.calls', quantity: '3', events: 2 }]);
  });

  it('answers 422 when every event is rejected, and stores nothing', async () => {
    const t = await newTenant();
    const res = await t.json('POST', '/v1/events', { body: [ev('n1', { quantity: '-1' }), ev('n2', { timestamp: now() + 3_600_000 })] });
    expect(res.status).toBe(422);
    expect(res.body.results.map((r: any) => r.errors[0].path)).toEqual(['quantity', 'timestamp']);
    expect((await t.json('GET', `/v1/usage/summary?${ALL_TIME}`)).body.data).toEqual([]);
  });

  it('accepts CloudEvents, single and batch', async () => {
    const t = await newTenant();
    const ce = (id: string, data: Record<string, unknown>) => ({
      specversion: '1.0',
      id,
      source: '/billing-test',
      type: 'gpu.seconds',
      subject: 'cust-ce',
      time: '2026-11-01T10:00:00Z',
      data,
    });
    const single = await t.json('POST', '/v1/events', {
      raw: JSON.stringify(ce('ce-1', { quantity: '1.5', gpu: 'a100' })),
      headers: { 'content-type': 'application/cloudevents+json' },
    });
    expect(single.status).toBe(200);
    const batch = await t.json('POST', '/v1/events', {
      raw: JSON.stringify([ce('ce-2', { quantity: 2 }), ce('ce-1', { quantity: 9 }), { specversion: '1.0', id: 'ce-3', source: 's', type: 'gpu.seconds' }]),
      headers: { 'content-type': 'application/cloudevents-batch+json; charset=utf-8' },
    });
    expect(batch.status).toBe(207);
    expect(batch.body.results.map((r: any) => r.status)).toEqual(['accepted', 'duplicate', 'rejected']);
    expect(batch.body.results[2].errors).toEqual([{ path: 'subject', message: 'is required' }]);
    const events = await t.json('GET', '/v1/events?customerId=cust-ce');
    expect(events.body.data.map((e: any) => [e.eventId, e.quantity, e.dimensions, e.source])).toEqual([
      ['ce-1', '1.5', { gpu: 'a100' }, '/billing-test'],
      ['ce-2', '2', {}, '/billing-test'],
    ]);
  });

  it('rejects malformed bodies with the one error body', async () => {
    const t = await newTenant();
    const bad = await t.json('POST', '/v1/events', { raw: '{"eventId":', headers: { 'content-type': 'application/json' } });
    expect(bad.status).toBe(400);
    expect(bad.body).toEqual({ error: { code: 'invalid_json', message: expect.any(String), requestId: expect.any(String) } });
    expect(bad.headers.get('x-request-id')).toBe(bad.body.error.requestId);
    expect((await t.json('POST', '/v1/events', { body: [] })).body.error.code).toBe('empty_batch');
    expect((await t.json('POST', '/v1/events', { body: 42 })).status).toBe(400);
    expect((await t.json('POST', '/v1/events', { raw: 'a=b', headers: { 'content-type': 'application/x-www-form-urlencoded' } })).status).toBe(415);
  });

  it('refuses requests without a key or with an unknown key (401)', async () => {
    const t = await newTenant();
    const none = await t.json('POST', '/v1/events', { body: ev('x'), key: null });
    expect(none.status).toBe(401);
    expect(none.body.error.code).toBe('unauthorized');
    const unknown = await t.json('POST', '/v1/events', { body: ev('x'), key: 'mh_not-a-real-key' });
    expect(unknown.status).toBe(401);
    expect((await t.json('GET', `/v1/usage/summary?${ALL_TIME}`)).body.data).toEqual([]);
  });

  it('limits events per request and body size (413), storing nothing of such a request', async () => {
    const t = await newTenant({ MAX_EVENTS_PER_REQUEST: 5, MAX_BODY_BYTES: 2048 });
    const tooMany = await t.json('POST', '/v1/events', { body: Array.from({ length: 6 }, (_, i) => ev(`m${i}`)) });
    expect(tooMany.status).toBe(413);
    expect(tooMany.body.error.code).toBe('too_many_events');
    const tooBig = await t.json('POST', '/v1/events', {
      body: [ev('big', { dimensions: { blob: 'x'.repeat(1000) } }), ev('big2', { dimensions: { blob: 'y'.repeat(1000) } })],
    });
    expect(tooBig.status).toBe(413);
    expect(tooBig.body.error.code).toBe('payload_too_large');
    expect((await t.json('POST', '/v1/events', { body: Array.from({ length: 5 }, (_, i) => ev(`m${i}`)) })).status).toBe(200);
    expect((await t.json('GET', `/v1/usage/summary?${ALL_TIME}`)).body.data[0].events).toBe(5);
  });

  it('takes the default limits: 10,000 events pass, 10,001 do not', async () => {
    const t = await newTenant();
    const batch = Array.from({ length: 10_001 }, (_, i) => ev(`l${i}`));
    expect((await t.json('POST', '/v1/events', { body: batch })).status).toBe(413);
    const ok = await t.json('POST', '/v1/events', { body: batch.slice(0, 10_000) });
    expect(ok.status).toBe(200);
    expect(ok.body.accepted).toBe(10_000);
  });
});
