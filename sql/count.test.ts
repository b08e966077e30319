import { describe, expect, it } from 'vitest';
import { count, countTooLarge, CountTooLargeError } from './count.js';

describe('count', () => {
  it("turns the engine's quoted UInt64 into an exact number", () => {
    expect(count.parse('3')).toBe(3);
    expect(count.parse(String(2 ** 53 - 1))).toBe(2 ** 53 - 1);
  });

  it('fails loudly instead of rounding a count a double cannot hold', () => {
    expect(() => count.parse('9007199254740992')).toThrow(/2\^53/);
    expect(() => count.parse('18446744073709551615')).toThrow(/2\^53/);
  });

  it("recognises the statement's refusal (countFitsJson) and nothing else", () => {
    const engine = new Error(
      "Code: 395. DB::Exception: events is a count of 2^53 or more, which a JSON number cannot carry exactly: while executing 'FUNCTION throwIf'",
    );
    expect(countTooLarge('usage.summary', engine)).toBeInstanceOf(CountTooLargeError);
    expect(countTooLarge('usage.summary', engine)?.message).not.toContain('Code: 395');
    expect(countTooLarge('usage.summary', new Error('Code: 241. DB::Exception: Memory limit exceeded'))).toBeUndefined();
  });
});
