import { parse } from 'lossless-json';
import { describe, expect, it } from 'vitest';
import { JsonNumber, parseJsonBody, parsedNatively, withPlainNumbers } from './json-body.js';

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

/** What lossless-json alone answers (the parse before the native path): the reference every body is compared with. */
function losslessOnly(text: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: parse(text, null, (source) => new JsonNumber(source)) };
  } catch {
    return { ok: false };
  }
}

/** A value written out with what toEqual leaves out: each object's key order and own-ness, and each number's text. */
function shapeOf(v: unknown): string {
  if (v instanceof JsonNumber) return `#${v.text}`;
  if (Array.isArray(v)) return `[${v.map(shapeOf).join(',')}]`;
  if (typeof v === 'object' && v !== null) {
    if (Object.getPrototypeOf(v) !== Object.prototype) return 'BAD-PROTOTYPE';
    return `{${Object.keys(v)
      .map((k) => `${JSON.stringify(k)}:${shapeOf((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}

function expectSameAsLossless(text: string): void {
  const reference = losslessOnly(text);
  const got = parseJsonBody(Buffer.from(text, 'utf8'));
  expect({ text, ok: got.ok }).toEqual({ text, ok: reference.ok });
  if (got.ok && reference.ok) expect({ text, shape: shapeOf(got.value) }).toEqual({ text, shape: shapeOf(reference.value) });
}

/** Seeded random JSON-like text: nested values, strings with quotes, backslashes, colons and digits, numbers in many spellings, repeated keys. */
function randomJson(seed: number): string {
  let s = seed >>> 0;
  const rand = () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 4294967296;
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const numbers = [
    '0',
    '1',
    '-1',
    '1.5',
    '1.50',
    '-0',
    '0.1',
    '1e3',
    '1E-7',
    '12.345',
    '9007199254740993',
    '123456789012345678',
    '0.30000000000000004',
    '1e21',
    '5e-324',
    '100',
    '-2.75',
    '1.0',
  ];
  const pieces = ['a', ':', '"', '\\', '\\"', '\\\\', '1.50', ' ', 'é', '\\u0041', '\\ud800', ',', '}', 'x', '__proto__', '0'];
  const str = () => {
    let out = '';
    const n = Math.floor(rand() * 5);
    for (let i = 0; i < n; i++) out += pick(pieces);
    return `"${out}"`;
  };
  const keys = ['a', 'b', '0', '10', '__proto__', 'k:1', 'q"', 'region'];
  const value = (depth: number): string => {
    const r = rand();
    if (depth > 3 || r < 0.3) return pick(numbers);
    if (r < 0.5) return str();
    if (r < 0.55) return pick(['true', 'false', 'null']);
    if (r < 0.75) return `[${Array.from({ length: Math.floor(rand() * 4) }, () => value(depth + 1)).join(pick([',', ', ', ',\n']))}]`;
    const members = Array.from({ length: Math.floor(rand() * 4) }, () => `${JSON.stringify(pick(keys))}${pick([':', ' : '])}${value(depth + 1)}`);
    return `{${members.join(',')}}`;
  };
  let text = value(0);
  // Now and then a mutation: a character dropped or added, so invalid text is compared too.
  if (rand() < 0.3) {
    const at = Math.floor(rand() * (text.length + 1));
    text = rand() < 0.5 ? text.slice(0, at) + text.slice(at + 1) : text.slice(0, at) + pick(['"', ':', '\\', ',', '1', '-', '{', ']']) + text.slice(at);
  }
  return text;
}

describe('parseJsonBody: the native parse where it is provably the same', () => {
  it('takes the native path for bodies like the bench events, with every number as written', () => {
    const body = JSON.stringify({
      events: [{ eventId: 'e-1', customerId: 'c:1', timestamp: 1764547200123, quantity: 12.5, dimensions: { region: 'eu "west" \\ 1.50' } }],
    });
    const native = parsedNatively(body);
    const reference = losslessOnly(body);
    if (!native || !reference.ok) throw new Error('both parses must answer this body');
    expect(shapeOf(native.value)).toBe(shapeOf(reference.value));
    expect(shapeOf(native.value)).toContain('"timestamp":#1764547200123');
  });

  it('leaves to lossless-json every body whose native parse could differ', () => {
    for (const text of [
      '{"q":1.50}', // JS writes 1.5
      '{"q":-0}',
      '{"q":1e3}',
      '{"q":9007199254740993}', // beyond a double
      '{"a":1,"a":2}', // a repeated key: JSON.parse keeps the last
      '{"a":{"b":"x","b":"x"}}', // repeated with the same value (lossless-json keeps it)
      '{"a":"unterminated}',
      '{"a":1',
      '',
    ]) {
      expect({ text, native: parsedNatively(text) }).toEqual({ text, native: undefined });
      expectSameAsLossless(text);
    }
    // The repeated key with different values is still refused, by lossless-json's message.
    expect(parseJsonBody(Buffer.from('{"a":1,"a":2}'))).toMatchObject({ ok: false, message: expect.stringMatching(/Duplicate key 'a'/) });
  });

  it('reads strings to their end past escaped quotes and backslashes, and counts only colons outside them', () => {
    for (const text of ['{"a\\\\":"b\\"c:d","e":"\\\\"}', '{"k:1":"1.50","x":["\\"",":",1]}', '[{"0":1,"10":2,"a":3,"__proto__":{"p":1}}]']) {
      expect({ text, native: parsedNatively(text) !== undefined }).toEqual({ text, native: true });
      expectSameAsLossless(text);
    }
  });

  it('answers as lossless-json alone does on 20,000 random and broken texts', () => {
    let native = 0;
    for (let seed = 1; seed <= 20_000; seed++) {
      const text = randomJson(seed);
      if (parsedNatively(text) !== undefined) native++;
      expectSameAsLossless(text);
    }
    // Both paths are exercised: plenty of texts parse natively, plenty do not.
    expect(native).toBeGreaterThan(2_000);
    expect(native).toBeLessThan(18_000);
  });

  it('decides integers without converting them exactly where the conversion would: 15 digits, leading zeros, minus signs', () => {
    const native = ['0', '7', '-7', '10', '-120', '100000000000000', '999999999999999', '-999999999999999', '1764547200123'];
    const converted = [
      '-0',
      '00',
      '007',
      '-007',
      '-',
      '--1',
      '9999999999999999',
      '9007199254740993',
      '1000000000000000',
      '-1000000000000000',
      '12345678901234567890',
      '1-2',
      '1.0',
      '1e3',
    ];
    for (const number of native) {
      const text = `{"q":${number},"r":[${number}]}`;
      expect({ text, native: parsedNatively(text) !== undefined }).toEqual({ text, native: true });
      expectSameAsLossless(text);
    }
    for (const number of converted) {
      const text = `{"q":${number}}`;
      const canonical = String(Number(number)) === number;
      expect({ text, native: parsedNatively(text) !== undefined }).toEqual({ text, native: canonical });
      expectSameAsLossless(text);
    }
    // 16 digits below 2^53 are canonical too: taken by the conversion, not by the shortcut.
    expect(parsedNatively('{"q":1000000000000000}')).toBeDefined();
    expect(parsedNatively('{"q":9999999999999999}')).toBeUndefined();
  });

  it('refuses nesting deeper than the stack as lossless-json does, without throwing', () => {
    const deep = `${'['.repeat(200_000)}1${']'.repeat(200_000)}`;
    expect(parseJsonBody(Buffer.from(deep)).ok).toBe(losslessOnly(deep).ok);
  });
});
