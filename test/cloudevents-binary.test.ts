import { CloudEvent, HTTP, type Message } from 'cloudevents';
import { describe, expect, it } from 'vitest';
import { newTenant, type TestTenant } from './harness.js';

/** CloudEvents HTTP binary mode, sent with the official SDK (`cloudevents` on npm) as a client would. */
const send = (t: TestTenant, message: Message) =>
  t.json('POST', '/v1/events', { raw: message.body === undefined ? undefined : String(message.body), headers: message.headers as Record<string, string> });

describe('CloudEvents binary content mode', () => {
  it('stores an event sent with HTTP.binary exactly, the same as its structured twin', async () => {
    const t = await newTenant();
    const time = new Date(Date.now() - 60_000).toISOString();
    const attrs = { source: '/gpu-svc', type: 'gpu.seconds', subject: 'cust-bin', time };
    const binary = HTTP.binary(new CloudEvent({ ...attrs, id: 'bin-1', data: { quantity: '12345678901234567890.123456789', gpu: 'a100', spot: true } }));
    expect(binary.headers['ce-id']).toBe('bin-1'); // really binary mode: attributes in headers
    const res = await send(t, binary);
    expect(res.status).toBe(200);
    expect(res.body.results).toEqual([{ index: 0, eventId: 'bin-1', status: 'accepted' }]);
    expect((await send(t, binary)).body.results[0].status).toBe('duplicate');

    const structured = HTTP.structured(
      new CloudEvent({ ...attrs, id: 'str-1', data: { quantity: '12345678901234567890.123456789', gpu: 'a100', spot: true } }),
    );
    expect((await send(t, structured)).status).toBe(200);

    // no data: the quantity defaults to 1
    expect((await send(t, HTTP.binary(new CloudEvent({ ...attrs, id: 'bin-2' })))).status).toBe(200);

    const stored = (await t.json('GET', '/v1/events?customerId=cust-bin')).body.data;
    const pick = (e: any) => ({
      eventId: e.eventId,
      customerId: e.customerId,
      metricName: e.metricName,
      timestamp: e.timestamp,
      quantity: e.quantity,
      dimensions: e.dimensions,
      source: e.source,
    });
    const expected = {
      customerId: 'cust-bin',
      metricName: 'gpu.seconds',
      quantity: '12345678901234567890.123456789',
      dimensions: { gpu: 'a100', spot: 'true' },
      source: '/gpu-svc',
    };
    expect(stored.map(pick).sort((a: any, b: any) => a.eventId.localeCompare(b.eventId))).toEqual([
      { ...expected, eventId: 'bin-1', timestamp: expect.any(String) },
      { ...expected, eventId: 'bin-2', quantity: '1', dimensions: {}, timestamp: expect.any(String) },
      { ...expected, eventId: 'str-1', timestamp: expect.any(String) },
    ]);
    expect(new Set(stored.map((e: any) => Date.parse(e.timestamp)))).toEqual(new Set([Date.parse(time)]));
  });

  it('percent-decodes header values as the HTTP binding says', async () => {
    const t = await newTenant();
    const message = HTTP.binary(new CloudEvent({ id: 'pct-1', source: '/s', type: 'api.calls', subject: 'x' }));
    const res = await send(t, { ...message, headers: { ...message.headers, 'ce-subject': 'acm%C3%A9%20%2F%20eu' } });
    expect(res.status).toBe(200);
    expect((await t.json('GET', `/v1/events?customerId=${encodeURIComponent('acmé / eu')}`)).body.data).toHaveLength(1);
  });

  it('answers invalid attributes with per-event errors at CloudEvents paths, and stores nothing', async () => {
    const t = await newTenant();
    // validation off in the SDK, so it sends what the server must refuse
    const bad = HTTP.binary(new CloudEvent({ id: 'bad-1', source: '/s', type: 'gpu seconds!', data: { quantity: 'lots', nested: { a: 1 } } }, false));
    const res = await send(t, bad);
    expect(res.status).toBe(422);
    expect(res.body.results).toHaveLength(1);
    expect(res.body.results[0]).toMatchObject({ index: 0, eventId: 'bad-1', status: 'rejected' });
    expect(res.body.results[0].errors.map((e: any) => e.path)).toEqual(['data.nested']);

    const noSubject = await send(t, HTTP.binary(new CloudEvent({ id: 'bad-2', source: '/s', type: 'gpu seconds!' }, false)));
    expect(noSubject.body.results[0].errors.map((e: any) => e.path).sort()).toEqual(['subject', 'type']);
    const quantity = await send(
      t,
      HTTP.binary(new CloudEvent({ id: 'bad-4', source: '/s', type: 'gpu.seconds', subject: 'c', data: { quantity: 'lots' } }, false)),
    );
    expect(quantity.body.results[0].errors.map((e: any) => e.path)).toEqual(['data.quantity']);

    const ok = HTTP.binary(new CloudEvent({ id: 'bad-3', source: '/s', type: 'api.calls', subject: 'c' }));
    const headerIssues = await send(t, { ...ok, headers: { ...ok.headers, 'ce-time': 'yesterday', 'ce-subject': '50%', 'ce-specversion': '0.3' } });
    expect(headerIssues.status).toBe(422);
    expect(headerIssues.body.results[0].errors.map((e: any) => e.path).sort()).toEqual(['specversion', 'subject']);
    const wrongTime = await send(t, { ...ok, headers: { ...ok.headers, 'ce-time': 'yesterday' } });
    expect(wrongTime.body.results[0].errors.map((e: any) => e.path)).toEqual(['time']);

    const text = await send(t, { ...ok, headers: { ...ok.headers, 'content-type': 'text/plain' }, body: 'hello' });
    expect(text.status).toBe(415);
    expect(text.body.error.code).toBe('unsupported_media_type');
    expect((await t.json('GET', '/v1/events')).body.data).toEqual([]);
  });
});
