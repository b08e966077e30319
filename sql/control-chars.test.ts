import { describe, expect, it } from 'vitest';
import { NO_CONTROL_CHARS } from './control-chars.js';

describe('NO_CONTROL_CHARS', () => {
  it('means exactly "no character of category Cc", with or without the u flag', () => {
    const withFlag = new RegExp(NO_CONTROL_CHARS.source, 'u');
    expect(NO_CONTROL_CHARS.flags).toBe('');
    for (let cp = 0; cp <= 0xffff; cp++) {
      if (cp >= 0xd800 && cp <= 0xdfff) continue; // lone surrogates: not characters
      const s = `a${String.fromCodePoint(cp)}b`;
      const expected = !/\p{Cc}/u.test(s);
      if (NO_CONTROL_CHARS.test(s) !== expected || withFlag.test(s) !== expected) throw new Error(`differs at U+${cp.toString(16)}`);
    }
    expect(NO_CONTROL_CHARS.test('acmé 📈')).toBe(true);
    expect(NO_CONTROL_CHARS.test('a\u0085b')).toBe(false);
  });
});
