import { describe, expect, it } from 'vitest';
import { ALL_TIME, newTenant } from './harness.js';

describe('GET /v1/usage/summary', () => {
  it('groups per customer and metric, filters by customer and metric', async () => {
    const t = await newTenant();
    const body = [
      { eventId: '1', customerId: 'a', metricName: 'api.calls', quantity: 2 },
      { eventId: '2', customerId: 'a', metricName: 'storage.gb', quantity: '1.25' },
      { eventId: '3', customerId: 'b', metricName: 'api.calls' },
      { eventId: '4', customerId: 'b', metricName: 'api.calls', quantity: 4 },
    ];
    await t.json('POST', '/v1/events', { body });
    expect((await t.json('GET', `/v1/usage/summary?${ALL_TIME}`)).body.data).toEqual([
      { customerId: 'a', metricName: 'api.calls', quantity: '2', events: 1 },
      { customerId: 'a', metricName: 'storage.gb', quantity: '1.25', events: 1 },
      { customerId: 'b', metricName: 'api.calls', quantity: '5', events: 2 },
    ]);
    expect((await t.json('GET', `/v1/usage/summary?${ALL_TIME}&customerId=b`)).body.data).toEqual([
      { customerId: 'b', metricName: 'api.calls', quantity: '5', events: 2 },
    ]);
    expect((await t.json('GET', `/v1/usage/summary?${ALL_TIME}&metricName=storage.gb`)).body.data).toEqual([
      { customerId: 'a', metricName: 'storage.gb', quantity: '1.25', events: 1 },
    ]);
  });

  it('pages through (customer, metric) rows with a cursor', async () => {
    const t = await newTenant();
    await t.json('POST', '/v1/events', { body: Array.from({ length: 7 }, (_, i) => ({ eventId: `p${i}`, customerId: `cust-${i}`, metricName: 'm' })) });
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: any = await t.json('GET', `/v1/usage/summary?${ALL_TIME}&limit=3${cursor ? `&cursor=${cursor}` : ''}`);
      expect(page.body.data.length).toBeLessThanOrEqual(3);
      seen.push(...page.body.data.map((r: any) => r.customerId));
      cursor = page.body.nextCursor;
    } while (cursor);
    expect(seen).toEqual(Array.from({ length: 7 }, (_, i) => `cust-${i}`));
    expect((await t.json('GET', `/v1/usage/summary?${ALL_TIME}&cursor=garbage`)).body.error.code).toBe('invalid_cursor');
  });

  it("says its length, and sends the engine's bytes whole: a page of rows, the last page, no rows", async () => {
    const t = await newTenant();
    // Multi-byte characters: a length counted in characters instead of bytes would cut the answer short.
    await t.json('POST', '/v1/events', {
      body: Array.from({ length: 5 }, (_, i) => ({ eventId: `l${i}`, customerId: `kund-ø-${i}`, metricName: 'm', quantity: '1.5' })),
    });
    for (const query of [`${ALL_TIME}&limit=3`, `${ALL_TIME}&limit=10`, `${ALL_TIME}&customerId=nobody`]) {
      const res = await t.request('GET', `/v1/usage/summary?${query}`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('application/json');
      const bytes = new Uint8Array(await res.arrayBuffer());
      expect(Number(res.headers.get('content-length'))).toBe(bytes.byteLength);
      const page = JSON.parse(new TextDecoder().decode(bytes)) as { data: { customerId: string }[]; nextCursor: string | null };
      const rows = query.includes('nobody') ? 0 : query.includes('limit=3') ? 3 : 5;
      expect(page.data.map((r) => r.customerId)).toEqual(Array.from({ length: rows }, (_, i) => `kund-ø-${i}`));
      expect(page.nextCursor === null).toBe(rows !== 3);
    }
  });

  it('never shows one tenant the data of another', async () => {
    const a = await newTenant();
    const b = await newTenant();
    await a.json('POST', '/v1/events', { body: { eventId: 'secret', customerId: 'a-customer', metricName: 'm', quantity: 7 } });
    expect((await b.json('GET', `/v1/usage/summary?${ALL_TIME}`)).body.data).toEqual([]);
    expect((await b.json('GET', '/v1/events?customerId=a-customer')).body.data).toEqual([]);
    expect((await a.json('GET', `/v1/usage/summary?${ALL_TIME}`)).body.data).toHaveLength(1);
  });
});

describe('GET /v1/events', () => {
  it('lists every stored event exactly once across pages, oldest first', async () => {
    const t = await newTenant();
    const T = Date.UTC(2026, 0, 1);
    // several events share a timestamp: the cursor must break ties by eventId
    const events = Array.from({ length: 25 }, (_, i) => ({
      eventId: `e${String(i).padStart(2, '0')}`,
      customerId: 'c',
      metricName: 'm',
      timestamp: T + Math.floor(i / 4),
    }));
    await t.json('POST', '/v1/events', { body: events });
    await t.json('POST', '/v1/events', { body: events.slice(0, 5) }); // duplicates must not show up
    const ids: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page: any = await t.json('GET', `/v1/events?limit=10${cursor ? `&cursor=${cursor}` : ''}`);
      ids.push(...page.body.data.map((e: any) => e.eventId));
      cursor = page.body.nextCursor;
      pages++;
    } while (cursor);
    expect(pages).toBe(3);
    expect(ids).toEqual(events.map((e) => e.eventId));
  });

  it('filters by customer, metric and time window; validates limit', async () => {
    const t = await newTenant();
    const T = Date.UTC(2026, 1, 1);
    await t.json('POST', '/v1/events', {
      body: [
        { eventId: 'x1', customerId: 'c1', metricName: 'm1', timestamp: T },
        { eventId: 'x2', customerId: 'c2', metricName: 'm1', timestamp: T + 10 },
        { eventId: 'x3', customerId: 'c1', metricName: 'm2', timestamp: T + 20 },
      ],
    });
    const ids = async (q: string) => (await t.json('GET', `/v1/events?${q}`)).body.data.map((e: any) => e.eventId);
    expect(await ids('customerId=c1')).toEqual(['x1', 'x3']);
    expect(await ids('metricName=m1')).toEqual(['x1', 'x2']);
    expect(await ids(`from=${T + 10}&to=${T + 20}`)).toEqual(['x2']);
    const bad = await t.json('GET', '/v1/events?limit=5000');
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatchObject({ code: 'invalid_request', details: [{ path: 'limit' }] });
  });
});
