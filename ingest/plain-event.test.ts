import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { plainUsageEvent } from './plain-event.js';
import { usageEventSchema } from './schema.js';
import { JsonNumber, parseJsonBody, withPlainNumbers } from './json-body.js';

// Strings at and around every limit, in UTF-16 units and in code points, with the characters the contract refuses.
const edgeText = fc.oneof(
  fc.constantFrom(
    '',
    'a',
    'cust-1',
    'api.calls',
    'eu-west-1',
    'x'.repeat(128),
    'x'.repeat(129),
    'x'.repeat(256),
    'x'.repeat(257),
    'x'.repeat(1024),
    'x'.repeat(1025),
  ),
  fc.constantFrom(
    '😀'.repeat(128),
    '😀'.repeat(129),
    '😀'.repeat(256),
    '😀'.repeat(513),
    'a\u0000b',
    'tab\there',
    'del\u007f',
    'c1\u0085',
    'lone\ud800',
    '\udc00x',
    'has space',
    '-lead',
    'a:b/c_d.e-f',
  ),
  fc.string({ maxLength: 8 }),
  fc.string({ unit: 'binary', maxLength: 6 }),
);
const edgeNumber = fc.oneof(
  fc.double(),
  fc.integer(),
  fc.constantFrom(new JsonNumber('1e999'), new JsonNumber('-0'), new JsonNumber('12.5'), new JsonNumber('9007199254740993'), new JsonNumber('1700000000000')),
);
const anyValue: fc.Arbitrary<unknown> = fc.oneof(edgeText, edgeNumber, fc.constantFrom(null, true, false, [], {}, ['a'], undefined));
// Each field is mostly valid and sometimes an edge, so events are often valid as a whole and often one field away.
const mostly = <T>(valid: fc.Arbitrary<T>, edge: fc.Arbitrary<unknown>) => fc.oneof({ weight: 6, arbitrary: valid }, { weight: 1, arbitrary: edge });
const id = fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 40 });
const dimensions = fc.oneof(
  { weight: 4, arbitrary: fc.dictionary(fc.stringMatching(/^[a-z][a-z0-9_]{0,20}$/), id, { maxKeys: 3, noNullPrototype: true }) },
  fc.dictionary(edgeText, mostly(id, fc.oneof(edgeText, anyValue)), { maxKeys: 4, noNullPrototype: true }),
  fc.dictionary(fc.string({ minLength: 1, maxLength: 6 }), fc.constant('v'), { minKeys: 49, maxKeys: 52, noNullPrototype: true }),
  fc.dictionary(id, id, { maxKeys: 2 }),
  fc.constant(JSON.parse('{"__proto__": "x", "a": "b"}') as unknown),
  anyValue,
);
const metadata = fc.oneof(
  fc.record({ source: mostly(id, edgeText), version: mostly(id, edgeText), requestId: mostly(id, edgeText) }, { requiredKeys: [] }),
  fc.record({ source: edgeText, other: edgeText }, { requiredKeys: [] }),
  anyValue,
);
const event = fc.record(
  {
    eventId: mostly(id, fc.oneof(edgeText, anyValue)),
    customerId: mostly(id, fc.oneof(edgeText, anyValue)),
    productId: mostly(id, fc.oneof(edgeText, anyValue)),
    metricName: mostly(fc.constantFrom('api.calls', 'tokens', 'a:b/c_d.e-f'), fc.oneof(edgeText, anyValue)),
    timestamp: mostly(edgeNumber, fc.oneof(edgeText, anyValue)),
    quantity: mostly(edgeNumber, fc.oneof(edgeText, anyValue)),
    dimensions,
    metadata,
    quanity: anyValue,
  },
  { requiredKeys: ['eventId', 'customerId', 'metricName'] },
);

describe('plainUsageEvent: the hot path vouches only for what zod accepts, with the same data', () => {
  it('on generated events, valid and not', () => {
    let vouched = 0;
    let refusedByZod = 0;
    fc.assert(
      fc.property(event, (input) => {
        const fast = plainUsageEvent(input as Record<string, unknown>);
        const zod = usageEventSchema.safeParse(withPlainNumbers(input));
        if (!zod.success) refusedByZod++;
        if (fast === undefined) return;
        vouched++;
        expect(zod.success).toBe(true);
        expect(fast).toEqual(zod.data);
      }),
      { numRuns: 5000, seed: 20261130 },
    );
    // Neither side of the property is empty: the generator reaches both verdicts.
    expect(vouched).toBeGreaterThan(50);
    expect(refusedByZod).toBeGreaterThan(1000);
  });

  it('on bodies parsed as the API parses them (JsonNumber quantities and timestamps)', () => {
    const body = parseJsonBody(
      Buffer.from(
        '[{"eventId":"e1","customerId":"c1","metricName":"api.calls","quantity":0.1,"timestamp":1700000000000,"dimensions":{"region":"eu","b":""},"metadata":{"source":"svc"}},' +
          '{"eventId":"e2","customerId":"c1","metricName":"api.calls","quantity":1e999}]',
      ),
    );
    if (!body.ok) throw new Error(body.message);
    const [first, second] = body.value as Record<string, unknown>[];
    expect(plainUsageEvent(first!)).toEqual({
      eventId: 'e1',
      customerId: 'c1',
      metricName: 'api.calls',
      quantity: 0.1,
      timestamp: 1_700_000_000_000,
      dimensions: { region: 'eu', b: '' },
      metadata: { source: 'svc' },
    });
    // Infinity is no number zod accepts: left to zod, which explains it.
    expect(plainUsageEvent(second!)).toBeUndefined();
    expect(usageEventSchema.safeParse(withPlainNumbers(second)).success).toBe(false);
  });

  it('vouches for the plain events every batch is made of', () => {
    const plain = fc.record(
      {
        eventId: fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 256 }),
        customerId: fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 256 }),
        metricName: fc.stringMatching(/^[a-z0-9][a-z0-9_.:/-]{0,40}$/),
        quantity: fc.oneof(fc.integer({ min: 0 }), fc.constant('12.345')),
        timestamp: fc.integer({ min: 0, max: 2 ** 42 }),
        dimensions: fc.dictionary(fc.stringMatching(/^[a-z][a-z0-9_]{0,20}$/), fc.string({ unit: 'grapheme-ascii', maxLength: 30 }), {
          maxKeys: 50,
          noNullPrototype: true,
        }),
      },
      { requiredKeys: ['eventId', 'customerId', 'metricName'] },
    );
    fc.assert(
      fc.property(plain, (input) => {
        expect(plainUsageEvent(input)).toEqual(usageEventSchema.parse(input));
      }),
      { numRuns: 1000, seed: 20261130 },
    );
  });
});
