import { describe, expect, it } from 'vitest';
import { BufferedClient } from './client.js';
import { resolveOptions, type MeterhouseClientOptions } from './options.js';
import type { DropReason, Rejection, UsageEvent } from './types.js';

/** Units without a server: fetch is a fake that records each request and answers as told; sleeps are recorded, not slept. */
type Answer = Response | Error | Promise<Response>;
type Init = RequestInit;
type Sent = { events: any[]; contentType: string | null; body: string };

function harness(answer: (sent: Sent, n: number, init: Init) => Answer, options: Partial<MeterhouseClientOptions> = {}) {
  const requests: Sent[] = [];
  const sleeps: number[] = [];
  const rejected: Rejection[] = [];
  const dropped: [UsageEvent[], DropReason][] = [];
  const fetch = async (_url: unknown, init?: RequestInit) => {
    const body = String(init!.body);
    const sent = { events: JSON.parse(body), contentType: new Headers(init!.headers).get('content-type'), body };
    requests.push(sent);
    const a = await answer(sent, requests.length, init!);
    if (a instanceof Error) throw a;
    return a;
  };
  const o = resolveOptions({
    url: 'http://meterhouse.test/',
    apiKey: 'k',
    flushIntervalMs: 60_000,
    now: () => 1_000,
    onRejected: (r) => rejected.push(...r),
    onDropped: (events, reason) => dropped.push([events, reason]),
    fetch: fetch as typeof globalThis.fetch,
    ...options,
  });
  const client = new BufferedClient(o, { sleep: async (ms) => void sleeps.push(ms), random: () => 0.5 });
  return { client, requests, sleeps, rejected, dropped };
}

const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });
const verdict = (sent: Sent, status = (_i: number) => 'accepted' as string) =>
  json(200, { results: sent.events.map((e, i) => ({ index: i, eventId: e.eventId ?? e.id, status: status(i) })), accepted: 0, duplicates: 0, rejected: 0 });
const ok = (sent: Sent) => verdict(sent);
const ev = (n: number) => ({ customerId: 'c', metricName: 'm', quantity: String(n) });

async function until(what: string, ready: () => boolean): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!ready()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('record and flush', () => {
  it('sends by size without a flush, and by interval', async () => {
    const bySize = harness(ok, { batchSize: 3 });
    for (let i = 0; i < 3; i++) void bySize.client.record(ev(i));
    await until('a full batch to go', () => bySize.requests.length === 1);
    expect(bySize.requests[0]!.events).toHaveLength(3);

    const byTime = harness(ok, { batchSize: 100, flushIntervalMs: 20 });
    void byTime.client.record(ev(1));
    expect(byTime.requests).toHaveLength(0);
    await until('the interval flush', () => byTime.requests.length === 1);
    await until('the answer', () => byTime.client.stats().accepted === 1);
  });

  it('assigns an eventId and a timestamp once, and keeps them across retries', async () => {
    const h = harness((_, n) => (n === 1 ? new TypeError('fetch failed') : ok(_)));
    const id = await h.client.record(ev(1));
    await h.client.flush();
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(h.requests).toHaveLength(2);
    expect(h.requests[1]!.body).toBe(h.requests[0]!.body);
    expect(h.requests[0]!.events).toEqual([{ ...ev(1), eventId: id, timestamp: 1_000 }]);
    expect(await h.client.record({ ...ev(2), eventId: 'mine', timestamp: '2030-01-01T00:00:00Z' })).toBe('mine');
  });

  it('flush() settles what was recorded before it; close() flushes and then drops new events', async () => {
    const h = harness(ok, { batchSize: 2 });
    for (let i = 0; i < 5; i++) void h.client.record(ev(i));
    await h.client.close();
    expect(h.requests.map((r) => r.events.length)).toEqual([2, 2, 1]);
    expect(h.client.stats()).toMatchObject({ accepted: 5, bufferedEvents: 0, bufferedBytes: 0 });
    await h.client.record(ev(9));
    expect(h.dropped.map(([e, reason]) => [e.length, reason])).toEqual([[1, 'closed']]);
  });

  it('caps a batch by bytes', async () => {
    const one = JSON.stringify({ ...ev(1), eventId: 'x-0', timestamp: 1_000 }).length;
    const h = harness(ok, { maxBatchBytes: 2 * one + 3 });
    for (let i = 0; i < 5; i++) void h.client.record({ ...ev(1), eventId: `x-${i}` });
    await h.client.flush();
    expect(h.requests.map((r) => r.events.length)).toEqual([2, 2, 1]);
    expect(Math.max(...h.requests.map((r) => r.body.length))).toBeLessThanOrEqual(2 * one + 3);
  });
});

describe('delivery', () => {
  it('retries network errors, 429 and 503, waiting at least Retry-After, with growing jittered backoff', async () => {
    const answers = [new TypeError('fetch failed'), json(429, {}, { 'retry-after': '3' }), json(503, {}), json(503, {}, { 'retry-after': '0' })];
    const h = harness((sent, n) => answers[n - 1] ?? ok(sent), { retry: { initialDelayMs: 100, maxDelayMs: 1_000 } });
    await h.client.record(ev(1));
    await h.client.flush();
    expect(h.requests).toHaveLength(5);
    // step 100, 200, 400, 800 with random() = 0.5 -> 75%; the 429 asked for 3 s
    expect(h.sleeps).toEqual([75, 3_000, 300, 600]);
    expect(h.client.stats()).toMatchObject({ accepted: 1, retries: 4, requests: 5 });
  });

  it.each([429, 500, 502, 503, 504])('retries a %i', async (status) => {
    const h = harness((sent, n) => (n === 1 ? json(status, {}) : ok(sent)));
    await h.client.record(ev(1));
    await h.client.flush();
    expect(h.requests).toHaveLength(2);
    expect(h.client.stats()).toMatchObject({ accepted: 1, retries: 1 });
  });

  it('retries a request that times out (requestTimeoutMs)', async () => {
    const hang = (init: Init) => new Promise<Response>((_, reject) => init.signal!.addEventListener('abort', () => reject(init.signal!.reason)));
    const h = harness((sent, n, init) => (n === 1 ? hang(init) : ok(sent)), { requestTimeoutMs: 20 });
    await h.client.record(ev(1));
    await h.client.flush();
    expect(h.requests).toHaveLength(2);
    expect(h.client.stats()).toMatchObject({ accepted: 1, retries: 1 });
  });

  it('retries an answer it cannot read (the events may be stored: a retry is answered duplicate)', async () => {
    const h = harness((sent, n) => (n === 1 ? new Response('<html>', { status: 200 }) : verdict(sent, () => 'duplicate')));
    await h.client.record(ev(1));
    await h.client.flush();
    expect(h.requests).toHaveLength(2);
    expect(h.client.stats()).toMatchObject({ accepted: 0, duplicates: 1, rejected: 0 });
  });

  it.each([400, 401, 403, 408, 413, 415])('never retries a %i: the events go to onRejected with the server error', async (status) => {
    const h = harness(() => json(status, { error: { code: 'nope', message: 'refused', requestId: 'r' } }));
    const id = await h.client.record(ev(1));
    await h.client.flush();
    expect(h.requests).toHaveLength(1);
    expect(h.rejected).toEqual([
      { eventId: id, event: expect.objectContaining({ eventId: id }), status, code: 'nope', errors: [{ path: '', message: 'refused' }] },
    ]);
  });

  it('reports per-event rejections of a 207 and does not retry them; duplicates count as delivered', async () => {
    const errors = [{ path: 'quantity', message: 'must not be negative' }];
    const h = harness((sent) =>
      json(207, {
        results: sent.events.map((e: any, index: number) =>
          index === 1
            ? { index, eventId: e.eventId, status: 'rejected', errors }
            : { index, eventId: e.eventId, status: index === 2 ? 'duplicate' : 'accepted' },
        ),
      }),
    );
    const ids = [await h.client.record(ev(1)), await h.client.record({ ...ev(1), quantity: '-1' }), await h.client.record(ev(3))];
    await h.client.flush();
    expect(h.requests).toHaveLength(1);
    expect(h.rejected).toEqual([{ eventId: ids[1], event: expect.objectContaining({ quantity: '-1' }), status: 207, errors }]);
    expect(h.client.stats()).toMatchObject({ accepted: 1, duplicates: 1, rejected: 1 });
  });

  it('drops a batch after maxAttempts failures, saying so', async () => {
    const h = harness(() => json(503, {}), { retry: { maxAttempts: 3 } });
    await h.client.record(ev(1));
    await h.client.flush();
    expect(h.requests).toHaveLength(3);
    expect(h.dropped.map(([e, reason]) => [e.length, reason])).toEqual([[1, 'retries_exhausted']]);
  });
});

describe('a bounded buffer', () => {
  /** A server that answers only when released, so events stay in flight. */
  function stalled() {
    const pending: (() => void)[] = [];
    const answer = (sent: Sent) => new Promise<Response>((resolve) => pending.push(() => resolve(ok(sent))));
    return { answer, release: () => pending.splice(0).forEach((r) => r()) };
  }

  it("'drop': a full buffer (in-flight events count) drops new events to onDropped", async () => {
    const server = stalled();
    const depth: number[] = [];
    const h = harness(server.answer, { batchSize: 2, maxBufferEvents: 2, whenFull: 'drop', metrics: { bufferDepth: (events) => depth.push(events) } });
    await h.client.record(ev(1));
    await h.client.record(ev(2));
    await until('the batch in flight', () => h.requests.length === 1);
    await h.client.record(ev(3));
    expect(h.dropped.map(([e, reason]) => [e[0]!.quantity, reason])).toEqual([['3', 'buffer_full']]);
    server.release();
    await h.client.flush();
    expect(h.client.stats()).toMatchObject({ accepted: 2, dropped: 1, bufferedEvents: 0 });
    expect(depth).toEqual([1, 2, 0]);
  });

  it("'wait': record() resolves only once there is room, and order is kept", async () => {
    const server = stalled();
    const h = harness(server.answer, { batchSize: 2, maxBufferEvents: 2, whenFull: 'wait' });
    await h.client.record({ ...ev(1), eventId: 'w1' });
    await h.client.record({ ...ev(2), eventId: 'w2' });
    let third: string | undefined;
    void h.client.record({ ...ev(3), eventId: 'w3' }).then((id) => (third = id));
    const fourth = h.client.record({ ...ev(4), eventId: 'w4' });
    await until('the batch in flight', () => h.requests.length === 1);
    await new Promise((r) => setTimeout(r, 20));
    expect(third).toBeUndefined();
    server.release();
    expect(await fourth).toBe('w4');
    expect(third).toBe('w3');
    const flushed = h.client.flush();
    await until('the second batch', () => h.requests.length === 2);
    server.release();
    await flushed;
    expect(h.requests.map((r) => r.events.map((e: any) => e.eventId))).toEqual([
      ['w1', 'w2'],
      ['w3', 'w4'],
    ]);
    expect(h.dropped).toEqual([]);
  });

  it('bounds bytes too, and drops an event that can never fit', async () => {
    const server = stalled();
    // each event below but the first is ~155 bytes as JSON
    const h = harness(server.answer, { maxBufferBytes: 300, maxBatchBytes: 250 });
    await h.client.record({ ...ev(1), dimensions: { pad: 'x'.repeat(300) } });
    await h.client.record({ ...ev(2), dimensions: { pad: 'x'.repeat(60) } });
    await h.client.record({ ...ev(3), dimensions: { pad: 'x'.repeat(60) } });
    expect(h.dropped.map(([e, reason]) => [e[0]!.quantity, reason])).toEqual([
      ['1', 'too_large'],
      ['3', 'buffer_full'],
    ]);
    expect(h.client.stats().bufferedBytes).toBeGreaterThan(150);
    expect(h.client.stats().bufferedBytes).toBeLessThanOrEqual(300);
    const flushed = h.client.flush();
    await until('the batch', () => h.requests.length === 1);
    server.release();
    await flushed;
  });
});

describe('CloudEvents output', () => {
  it('sends application/cloudevents-batch+json, and refuses locally what CloudEvents cannot carry', async () => {
    const h = harness(ok, { format: 'cloudevents', source: 'svc/api' });
    await h.client.record({ eventId: 'c1', customerId: 'acme', metricName: 'api.calls', quantity: '2.50', timestamp: 0, dimensions: { region: 'eu' } });
    await h.client.record({ eventId: 'c2', customerId: 'acme', metricName: 'api.calls', productId: 'p', dimensions: { quantity: 'x' } });
    await h.client.flush();
    expect(h.requests[0]!.contentType).toBe('application/cloudevents-batch+json');
    expect(h.requests[0]!.events).toEqual([
      {
        specversion: '1.0',
        id: 'c1',
        source: 'svc/api',
        type: 'api.calls',
        subject: 'acme',
        time: '1970-01-01T00:00:00.000Z',
        datacontenttype: 'application/json',
        data: { region: 'eu', quantity: '2.50' },
      },
    ]);
    expect(h.rejected.map((r) => [r.eventId, r.status, r.errors.map((e) => e.path)])).toEqual([['c2', 0, ['productId', 'dimensions.quantity']]]);
  });
});

describe('hooks', () => {
  it('report sent, retried, rejected and dropped; a throwing hook does not stop delivery', async () => {
    const seen: string[] = [];
    const h = harness((sent, n) => (n === 1 ? json(503, {}) : verdict(sent, (i) => (i === 0 ? 'rejected' : 'accepted'))), {
      maxBufferEvents: 2,
      batchSize: 2,
      metrics: {
        sent: (n, d) => void seen.push(`sent ${n} ${d.accepted}/${d.duplicates}`),
        retried: (d) => void seen.push(`retried ${d.events} #${d.attempt} ${d.reason}`),
        rejected: (n) => void seen.push(`rejected ${n}`),
        dropped: (n, reason) => {
          seen.push(`dropped ${n} ${reason}`);
          throw new Error('hook bug');
        },
      },
    });
    const uncaught: unknown[] = [];
    const onUncaught = (e: unknown) => uncaught.push(e);
    process.on('uncaughtException', onUncaught);
    try {
      for (let i = 0; i < 3; i++) await h.client.record(ev(i));
      await h.client.flush();
      await until('the hook error to surface', () => uncaught.length === 1);
    } finally {
      process.off('uncaughtException', onUncaught);
    }
    expect(seen).toEqual(['dropped 1 buffer_full', 'retried 2 #1 HTTP 503', 'sent 1 1/0', 'rejected 1']);
    expect(String(uncaught[0])).toContain('hook bug');
  });
});
