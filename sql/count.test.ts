import { describe, expect, it } from 'vitest';
import { count } from './count.js';

describe('count', () => {
  it("turns the engine's quoted UInt64 into an exact number", () => {
    expect(count.parse('3')).toBe(3);
    expect(count.parse(String(2 ** 53 - 1))).toBe(2 ** 53 - 1);
  });

  it('fails loudly instead of rounding a count a double cannot hold', () => {
    expect(() => count.parse('9007199254740992')).toThrow(/2\^53/);
    expect(() => count.parse('18446744073709551615')).toThrow(/2\^53/);
  });
});
