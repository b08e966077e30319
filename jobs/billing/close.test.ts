import { describe, expect, it } from 'vitest';
import { lineCountOf } from './close.js';

describe('lineCountOf', () => {
  it('counts the lines of a JSONL file on its bytes, as splitting its text would', () => {
    const cases = ['', '{"a":1}\n', '{"a":1}\n{"b":"é\\n"}\n', '{"a":1}\n{"b":2}', '{"c":"日本"}\n'.repeat(1000)];
    for (const text of cases)
      expect(lineCountOf(Buffer.from(text)), JSON.stringify(text.slice(0, 30))).toBe(text === '' ? 0 : text.trimEnd().split('\n').length);
  });
});
