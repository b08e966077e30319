import { describe, expect, it } from 'vitest';
import { engine, newTenant } from './harness.js';
import { createApp } from '../api/app.js';
import { ByteBudget } from '../api/byte-budget.js';

const event = (id: string) => JSON.stringify([{ eventId: id, customerId: 'c', metricName: 'm', quantity: 1 }]);

describe('ingest memory is bounded per request and in total', () => {
  it('a body that would pass INGEST_MAX_INFLIGHT_BYTES while others are in flight gets 503 with Retry-After; shares come back', async () => {
    const r = await engine();
    const t = await newTenant();
    const budget = new ByteBudget(2048);
    const app = createApp({ ...r.deps, ingestBudget: budget, config: { ...r.deps.config, MAX_BODY_BYTES: 1500, INGEST_MAX_INFLIGHT_BYTES: 2048 } });
    const headers = (length: number) => ({ authorization: `Bearer ${t.adminKey}`, 'content-type': 'application/json', 'content-length': String(length) });

    // A slow body still streaming in holds its declared 1200 bytes.
    const slow = event('slow').padEnd(1200, ' ');
    let send!: (s: string) => void;
    let end!: () => void;
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        send = (s) => controller.enqueue(new TextEncoder().encode(s));
        end = () => controller.close();
      },
    });
    const first = app.request('/v1/events', { method: 'POST', headers: headers(1200), body: stream, duplex: 'half' } as RequestInit);
    send(slow.slice(0, 10));
    const deadline = Date.now() + 5000;
    while (budget.inUse === 0 && Date.now() < deadline) await new Promise((resolve) => setImmediate(resolve));
    expect(budget.inUse).toBe(1200);

    const second = event('second').padEnd(1000, ' ');
    const refused = await app.request('/v1/events', { method: 'POST', headers: headers(1000), body: second });
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(((await refused.json()) as any).error).toMatchObject({ code: 'ingest_busy', message: expect.stringMatching(/INGEST_MAX_INFLIGHT_BYTES/) });

    send(slow.slice(10));
    end();
    expect((await first).status).toBe(200);
    expect(budget.inUse).toBe(0);
    expect((await app.request('/v1/events', { method: 'POST', headers: headers(1000), body: second })).status).toBe(200);
    expect(budget.inUse).toBe(0);
  });

  it('a declared Content-Length over MAX_BODY_BYTES is refused before the body is read, and takes no share', async () => {
    const r = await engine();
    const t = await newTenant();
    const budget = new ByteBudget(4096);
    const app = createApp({ ...r.deps, ingestBudget: budget, config: { ...r.deps.config, MAX_BODY_BYTES: 1500 } });
    const res = await app.request('/v1/events', {
      method: 'POST',
      headers: { authorization: `Bearer ${t.adminKey}`, 'content-type': 'application/json', 'content-length': '999999' },
      body: event('big'),
    });
    expect(res.status).toBe(413);
    expect(budget.inUse).toBe(0);
  });
});
