import { describe, expect, it } from 'vitest';
import { canonicalDimensions, eventsInBody, normaliseEvent, type NormaliseContext } from './normalise.js';
import { JsonNumber } from './json-body.js';

const NOW = Date.UTC(2026, 10, 21, 12, 0, 0);
const ctx: NormaliseContext = { tenantId: 'acme', receivedAtMs: NOW, maxFutureSkewMs: 300_000, format: 'usage' };
const base = { eventId: 'e1', customerId: 'c1', metricName: 'api.calls' };

describe('normaliseEvent (usage contract)', () => {
  it('fills defaults: quantity 1, timestamp = receive time, tenant from context', () => {
    const v = normaliseEvent(base, 0, ctx);
    expect(v.errors).toBeUndefined();
    expect(v.row).toMatchObject({ tenant_id: 'acme', event_id: 'e1', quantity: '1', timestamp: NOW, ingested_at: NOW, dimensions: {} });
  });

  it('accepts epoch ms and RFC 3339 with any offset', () => {
    expect(normaliseEvent({ ...base, timestamp: 1_700_000_000_123 }, 0, ctx).row?.timestamp).toBe(1_700_000_000_123);
    expect(normaliseEvent({ ...base, timestamp: '2026-01-01T01:00:00.5+01:00' }, 0, ctx).row?.timestamp).toBe(Date.UTC(2026, 0, 1, 0, 0, 0, 500));
  });

  it('accepts any past time (backfill) and rejects beyond the future skew', () => {
    expect(normaliseEvent({ ...base, timestamp: '2001-02-03T04:05:06Z' }, 0, ctx).row).toBeDefined();
    expect(normaliseEvent({ ...base, timestamp: NOW + 299_000 }, 0, ctx).row).toBeDefined();
    const late = normaliseEvent({ ...base, timestamp: NOW + 301_000 }, 3, ctx);
    expect(late).toMatchObject({ index: 3, eventId: 'e1', errors: [{ path: 'timestamp', message: expect.stringMatching(/future/) }] });
  });

  it('reports every problem of an event with its path, and keeps the claimed eventId', () => {
    const v = normaliseEvent({ eventId: 'bad', metricName: 'has space', quantity: '-1', timestamp: 'yesterday', dimensions: { region: 7 } }, 2, ctx);
    expect(v.index).toBe(2);
    expect(v.eventId).toBe('bad');
    const paths = (v.errors ?? []).map((e) => e.path).sort();
    expect(paths).toEqual(['customerId', 'dimensions.region', 'metricName']);
    const semantic = normaliseEvent({ ...base, quantity: '-1', timestamp: 'yesterday' }, 0, ctx);
    expect((semantic.errors ?? []).map((e) => e.path).sort()).toEqual(['quantity', 'timestamp']);
  });

  it('rejects unknown fields by name, so a typo never silently bills the default', () => {
    const v = normaliseEvent({ ...base, quanity: 5 }, 0, ctx);
    expect(v.errors).toEqual([{ path: 'quanity', message: 'is not a field of the event contract' }]);
  });

  it('enforces limits on every field', () => {
    expect(normaliseEvent({ ...base, eventId: 'x'.repeat(257) }, 0, ctx).errors?.[0]?.path).toBe('eventId');
    const dims = Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`k${i}`, 'v']));
    expect(normaliseEvent({ ...base, dimensions: dims }, 0, ctx).errors?.[0]?.path).toBe('dimensions');
    expect(normaliseEvent({ ...base, customerId: 'a\u0000b' }, 0, ctx).errors?.[0]?.path).toBe('customerId');
    expect(normaliseEvent('not an object', 0, ctx).errors?.[0]?.message).toMatch(/JSON object/);
  });
});

describe('dimensions in one canonical order', () => {
  const orderOf = (dimensions: Record<string, string>) => Object.keys(normaliseEvent({ ...base, dimensions }, 0, ctx).row!.dimensions);
  it('stores every order of the same keys in the same order, integer-like keys included', () => {
    const keys = ['region', 'b', '10', '9', 'a', 'Z', '\u00e9', 'é'.normalize('NFD')];
    const expected = Object.keys(Object.fromEntries([...keys].sort().map((k) => [k, 'v'])));
    for (let shift = 0; shift < keys.length; shift++) {
      const rotated = [...keys.slice(shift), ...keys.slice(0, shift)];
      expect(orderOf(Object.fromEntries(rotated.map((k) => [k, 'v'])))).toEqual(expected);
      expect(orderOf(Object.fromEntries([...rotated].reverse().map((k) => [k, 'v'])))).toEqual(expected);
    }
  });

  it('keeps keys already in order as they are, and copies only to reorder', () => {
    const inOrder = { a: '1', b: '2' };
    expect(canonicalDimensions(inOrder)).toBe(inOrder);
    const reversed = { b: '2', a: '1' };
    const sorted = canonicalDimensions(reversed);
    expect(sorted).not.toBe(reversed);
    expect(Object.entries(sorted)).toEqual([
      ['a', '1'],
      ['b', '2'],
    ]);
    expect(Object.entries(reversed)).toEqual([
      ['b', '2'],
      ['a', '1'],
    ]);
    expect(canonicalDimensions(undefined)).toEqual({});
  });
});

describe('normaliseEvent (CloudEvents)', () => {
  const ce = { ...ctx, format: 'cloudevents' as const };
  it('maps CloudEvents attributes onto the usage event', () => {
    const v = normaliseEvent(
      {
        specversion: '1.0',
        id: 'ce-1',
        source: '/svc/api',
        type: 'api.calls',
        subject: 'cust-9',
        time: '2026-11-20T00:00:00Z',
        data: { quantity: '2.5', region: 'eu', cached: true },
      },
      0,
      ce,
    );
    expect(v.row).toMatchObject({
      event_id: 'ce-1',
      customer_id: 'cust-9',
      metric_name: 'api.calls',
      quantity: '2.5',
      timestamp: Date.UTC(2026, 10, 20),
      dimensions: { region: 'eu', cached: 'true' },
      source: '/svc/api',
    });
  });

  it('reports errors at CloudEvents paths', () => {
    const v = normaliseEvent({ specversion: '1.0', id: 'ce-2', source: 's', type: 'api.calls', data: { quantity: 'lots' } }, 0, ce);
    expect((v.errors ?? []).map((e) => e.path).sort()).toEqual(['subject']);
    const q = normaliseEvent({ specversion: '1.0', id: 'ce-3', source: 's', type: 'api.calls', subject: 'c', data: { quantity: 'lots' } }, 0, ce);
    expect(q.errors?.[0]?.path).toBe('data.quantity');
    expect(normaliseEvent({ specversion: '0.3', id: 'x', source: 's', type: 't' }, 0, ce).errors?.[0]?.path).toBe('specversion');
  });
});

describe('eventsInBody', () => {
  it('takes one event, an array, or { events }', () => {
    expect(eventsInBody(base, 'usage')).toEqual({ events: [base] });
    expect(eventsInBody([base, base], 'usage')).toEqual({ events: [base, base] });
    expect(eventsInBody({ events: [base] }, 'usage')).toEqual({ events: [base] });
    expect(eventsInBody({ events: [base], extra: 1 }, 'usage')).toHaveProperty('error');
    expect(eventsInBody('x', 'usage')).toHaveProperty('error');
    expect(eventsInBody({ a: 1 }, 'cloudevents-batch')).toHaveProperty('error');
    expect(eventsInBody([], 'cloudevent')).toHaveProperty('error');
  });
});

describe('normaliseEvent: input is stored exactly or refused', () => {
  it('refuses lone surrogates in every string field, keys included, and keeps pairs', () => {
    const lone = ['p\ud800', 'dup-\udfff'];
    for (const s of lone) {
      for (const event of [
        { ...base, eventId: s },
        { ...base, customerId: s },
        { ...base, productId: s },
        { ...base, dimensions: { [s]: 'v' } },
        { ...base, dimensions: { k: s } },
        { ...base, metadata: { source: s } },
      ]) {
        const v = normaliseEvent(event, 0, ctx);
        expect(v.row, JSON.stringify(event)).toBeUndefined();
      }
    }
    expect(normaliseEvent({ ...base, eventId: 'dup-\udfff' }, 0, ctx).errors).toEqual([
      { path: 'eventId', message: expect.stringMatching(/lone UTF-16 surrogate/) },
    ]);
    expect(normaliseEvent({ ...base, dimensions: { k: 'v\udc00' } }, 0, ctx).errors?.[0]?.path).toBe('dimensions.k');
    expect(normaliseEvent({ ...base, customerId: '\u{1F600}' }, 0, ctx).row?.customer_id).toBe('\u{1F600}');
  });

  it('counts lengths in code points: 256 emoji are a valid id, 257 are not', () => {
    expect(normaliseEvent({ ...base, eventId: '\u{1F600}'.repeat(256) }, 0, ctx).row).toBeDefined();
    expect(normaliseEvent({ ...base, eventId: '\u{1F600}'.repeat(257) }, 0, ctx).errors?.[0]?.path).toBe('eventId');
    expect(normaliseEvent({ ...base, dimensions: { k: '\u{1F600}'.repeat(1024) } }, 0, ctx).row).toBeDefined();
    // the echoed id of a rejected event is cut at a code point, never inside a pair
    expect(normaliseEvent({ ...base, eventId: `x${'\u{1F600}'.repeat(300)}` }, 0, ctx).eventId).toBe(`x${'\u{1F600}'.repeat(255)}`);
  });

  it('refuses a "__proto__" dimension key (usage and CloudEvents) instead of dropping it', () => {
    const dims = JSON.parse('{"__proto__":{"polluted":"yes"},"region":"eu"}');
    expect(normaliseEvent({ ...base, dimensions: dims }, 0, ctx).errors).toEqual([
      { path: 'dimensions.__proto__', message: expect.stringMatching(/reserved/) },
    ]);
    const asString = JSON.parse('{"__proto__":"x"}');
    expect(normaliseEvent({ ...base, dimensions: asString }, 0, ctx).errors?.[0]?.path).toBe('dimensions.__proto__');
    const data = JSON.parse('{"quantity":"1","__proto__":"x"}');
    const ce = normaliseEvent({ specversion: '1.0', id: 'ce', source: 's', type: 'm', subject: 'c', data }, 0, { ...ctx, format: 'cloudevents' });
    expect(ce.errors).toEqual([{ path: 'data.__proto__', message: expect.stringMatching(/reserved/) }]);
  });

  it('reads a JSON-number quantity from its source text (usage and CloudEvents)', () => {
    expect(normaliseEvent({ ...base, quantity: new JsonNumber('9007199254740993') }, 0, ctx).row?.quantity).toBe('9007199254740993');
    const ce = normaliseEvent(
      {
        specversion: '1.0',
        id: 'ce',
        source: 's',
        type: 'm',
        subject: 'c',
        data: { quantity: new JsonNumber('12345678901234567890123.5'), size: new JsonNumber('1.50') },
      },
      0,
      { ...ctx, format: 'cloudevents' },
    );
    expect(ce.row).toMatchObject({ quantity: '12345678901234567890123.5', dimensions: { size: '1.50' } });
    // a number is no event, and a number where a string belongs is still a type error
    expect(normaliseEvent(new JsonNumber('42'), 0, ctx).errors).toEqual([{ path: '', message: 'an event must be a JSON object' }]);
    expect(normaliseEvent(new JsonNumber('42'), 0, { ...ctx, format: 'cloudevents' }).row).toBeUndefined();
    expect(eventsInBody(new JsonNumber('42'), 'usage')).toHaveProperty('error');
    expect(eventsInBody(new JsonNumber('42'), 'cloudevent')).toHaveProperty('error');
    expect(normaliseEvent({ ...base, eventId: new JsonNumber('7') }, 0, ctx).errors?.[0]?.path).toBe('eventId');
  });
});
