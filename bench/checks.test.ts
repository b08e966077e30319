import { expect, it } from 'vitest';
import { sourceOf, sourceOfBytes } from './checks.js';

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
});
