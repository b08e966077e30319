import { describe, expect, it } from 'vitest';
import { parseDecimal } from './decimal.js';

const ok = (input: number | string) => {
  const r = parseDecimal(input);
  if (!r.ok) throw new Error(`expected ${String(input)} to parse: ${r.message}`);
  return r.value;
};

describe('parseDecimal', () => {
  it('canonicalises decimal strings without changing their value', () => {
    expect(ok('12')).toBe('12');
    expect(ok('0012.500')).toBe('12.5');
    expect(ok('0.000000001')).toBe('0.000000001');
    expect(ok('-0.0')).toBe('0');
    expect(ok('+3.25')).toBe('3.25');
    expect(ok('99999999999999999999999999999.999999999')).toBe('99999999999999999999999999999.999999999');
  });

  it('takes JSON numbers by their shortest decimal spelling, never via rounding', () => {
    expect(ok(0.1)).toBe('0.1');
    expect(ok(3)).toBe('3');
    expect(ok(1e-7)).toBe('0.0000001');
    expect(ok(1e21)).toBe('1000000000000000000000');
  });

  it('rejects what it cannot store exactly, saying why', () => {
    const r = parseDecimal(0.1 + 0.2); // 0.30000000000000004
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.message).toMatch(/more than 9 fraction digits.*string/);
    expect(parseDecimal('0.0000000001').ok).toBe(false);
    expect(parseDecimal('1e3').ok).toBe(false);
    expect(parseDecimal(' 1').ok).toBe(false);
    expect(parseDecimal('1.').ok).toBe(false);
    expect(parseDecimal('').ok).toBe(false);
    expect(parseDecimal(Number.NaN).ok).toBe(false);
    expect(parseDecimal(Number.POSITIVE_INFINITY).ok).toBe(false);
    expect(parseDecimal('1'.repeat(30)).ok).toBe(false);
  });
});

describe("parseDecimal of a JSON number's source text", () => {
  const exact = (jsonNumber: string) => parseDecimal({ jsonNumber });
  it('reads it exactly, beyond 2^53 too', () => {
    expect(exact('9007199254740993')).toEqual({ ok: true, value: '9007199254740993' });
    expect(exact('18446744073709551615')).toEqual({ ok: true, value: '18446744073709551615' });
    expect(exact('12345678901234567890123.5')).toEqual({ ok: true, value: '12345678901234567890123.5' });
    expect(exact('0.123456789')).toEqual({ ok: true, value: '0.123456789' });
    expect(exact('1.50')).toEqual({ ok: true, value: '1.5' });
    expect(exact('1.5e-7')).toEqual({ ok: true, value: '0.00000015' });
    expect(exact('12.5E+2')).toEqual({ ok: true, value: '1250' });
    expect(exact('1e21')).toEqual({ ok: true, value: '1000000000000000000000' });
    expect(exact('-0')).toEqual({ ok: true, value: '0' });
  });

  it('refuses what does not fit, instead of rounding', () => {
    // an integer literal beyond 64 bits makes the Kafka path's JSON parser refuse the message: refused here too, with the way out
    expect(exact('12345678901234567890123')).toMatchObject({ ok: false, message: expect.stringMatching(/beyond 64 bits.*string/) });
    expect(exact('18446744073709551616').ok).toBe(false);
    // the 64-bit bound is exact at both ends, whatever the length of the text (a short integer skips the big-integer check)
    expect(exact('-9223372036854775808')).toEqual({ ok: true, value: '-9223372036854775808' });
    expect(exact('-9223372036854775809')).toMatchObject({ ok: false, message: expect.stringMatching(/beyond 64 bits/) });
    expect(exact('-000000000000000000000000000001')).toEqual({ ok: true, value: '-1' });
    expect(exact('999999999999999999')).toEqual({ ok: true, value: '999999999999999999' });
    expect(exact('1e-10')).toMatchObject({ ok: false, message: expect.stringMatching(/fraction digits/) });
    expect(exact('0.30000000000000004').ok).toBe(false);
    expect(exact('1'.repeat(30)).ok).toBe(false);
    expect(exact('1e400')).toMatchObject({ ok: false, message: expect.stringMatching(/integer digits/) });
    expect(exact('1e99999999')).toMatchObject({ ok: false });
  });
});
