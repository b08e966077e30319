import { describe, expect, it } from 'vitest';
import { JsonNumber, parseJsonBody, withPlainNumbers } from './json-body.js';

const bytes = (...parts: (string | number[])[]) => Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'utf8') : Buffer.from(p))));

describe('parseJsonBody', () => {
  it('keeps every number as the client spelt it', () => {
    const r = parseJsonBody(bytes('{"q":9007199254740993,"r":[1.50,-0,1e3]}'));
    expect(r).toEqual({ ok: true, value: { q: new JsonNumber('9007199254740993'), r: [new JsonNumber('1.50'), new JsonNumber('-0'), new JsonNumber('1e3')] } });
  });

  it('refuses invalid UTF-8 instead of replacing it (two ids must never collapse into one)', () => {
    const ff = parseJsonBody(bytes('{"eventId":"u8-', [0xff], '"}'));
    const fe = parseJsonBody(bytes('{"eventId":"u8-', [0xfe], '"}'));
    expect(ff).toEqual({ ok: false, code: 'invalid_utf8', message: 'the body is not valid UTF-8' });
    expect(fe.ok).toBe(false);
    // a surrogate encoded in UTF-8 (CESU-8) is not UTF-8 either
    expect(parseJsonBody(bytes('"', [0xed, 0xa0, 0x80], '"')).ok).toBe(false);
    expect(parseJsonBody(bytes('"\u{1F600}"'))).toEqual({ ok: true, value: '\u{1F600}' });
  });

  it('refuses duplicate keys that JSON.parse would resolve silently to the last one', () => {
    const r = parseJsonBody(bytes('{"dimensions":{"region":"eu","region":"us"}}'));
    expect(r).toMatchObject({ ok: false, code: 'invalid_json', message: expect.stringMatching(/Duplicate key 'region'/) });
    expect(parseJsonBody(bytes('{"a":')).ok).toBe(false);
  });

  it('keeps a "__proto__" key as an own key, never as a prototype', () => {
    const r = parseJsonBody(bytes('{"__proto__":{"polluted":"yes"},"region":"eu"}'));
    if (!r.ok) throw new Error(r.message);
    const value = r.value as Record<string, unknown>;
    expect(Object.keys(value)).toEqual(['__proto__', 'region']);
    expect(Object.getPrototypeOf(value)).toBe(Object.prototype);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.keys(withPlainNumbers(value) as object)).toEqual(['__proto__', 'region']);
  });
});
