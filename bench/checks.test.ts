import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect, it } from 'vitest';
import { getTail, sourceOf, sourceOfBytes } from './checks.js';

const encode = (o: unknown) => new TextEncoder().encode(JSON.stringify(o));

it("reads an answer's meta.source from the bytes of its tail, and from the whole answer when the tail does not hold it", () => {
  // A summary page as the API writes it: rows, then meta, then the cursor. Ids with a 4-byte character; padding the
  // meta by 0-3 bytes moves where the tail's first byte falls, inside such a character or not.
  const rows = Array.from({ length: 10_000 }, (_, i) => ({ customerId: `c-${i}-😀`, metricName: 'api.calls', quantity: '1.5', events: 3 }));
  for (let pad = 0; pad < 4; pad++) {
    const page = { data: rows, meta: { source: 'usage_per_day+usage_events', pad: 'x'.repeat(pad) }, nextCursor: null };
    const bytes = encode(page);
    expect(bytes.length).toBeGreaterThan(100_000);
    expect(sourceOfBytes(bytes)).toBe('usage_per_day+usage_events');
    expect(sourceOf(JSON.stringify(page))).toBe('usage_per_day+usage_events');
  }
  // meta before the rows: not in the tail, found by reading the answer whole.
  expect(sourceOfBytes(encode({ meta: { source: 'usage_per_hour' }, data: rows }))).toBe('usage_per_hour');
  expect(sourceOfBytes(encode({ meta: { source: 'usage_events' } }))).toBe('usage_events');
  expect(sourceOfBytes(encode({ data: [] }))).toBeUndefined();
  // Only the answer's last bytes (getTail): a meta among them is read; one that is not is an error, not a guess.
  const last = (b: Uint8Array) => b.subarray(b.length - 4096);
  expect(sourceOfBytes(last(encode({ data: rows, meta: { source: 'usage_per_hour' } })), false)).toBe('usage_per_hour');
  expect(() => sourceOfBytes(last(encode({ meta: { source: 'usage_per_hour' }, data: rows })), false)).toThrow(/meta is not in its last 4096 bytes/);
});

it('getTail counts every byte of an answer sent in chunks and keeps its last bytes; a refusal is kept whole', async () => {
  const answer = Buffer.from(Array.from({ length: 300_000 }, (_, i) => String.fromCharCode(97 + (i % 26))).join(''));
  const refusal = Buffer.from(JSON.stringify({ error: { code: 'read_limit_exceeded', message: 'x'.repeat(10_000) } }));
  const server = createServer((req, res) => {
    if (req.url === '/refused') return void res.writeHead(422).end(refusal);
    res.writeHead(200);
    // In pieces of 7,000 bytes, each its own chunk on the wire.
    const write = (at: number): void => {
      if (at >= answer.length) return void res.end();
      res.write(answer.subarray(at, at + 7_000), () => write(at + 7_000));
    };
    write(0);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const api = { base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, key: 'k' };
  try {
    const ok = await getTail(api, '/answer');
    expect(ok.status).toBe(200);
    expect(ok.bytes).toBe(answer.length);
    expect(Buffer.from(ok.tail).equals(answer.subarray(answer.length - 4096))).toBe(true);
    const refused = await getTail(api, '/refused');
    expect(refused.status).toBe(422);
    expect(Buffer.from(refused.tail).equals(refusal)).toBe(true);
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
});
