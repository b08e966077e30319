import { describe, expect, it } from 'vitest';
import { placeholderNames, stringLiteral, withSessionParameters } from './session-parameters.js';

describe('session parameters', () => {
  it('writes a value as a string literal: quotes and backslashes escaped, control bytes as \\xHH', () => {
    expect(stringLiteral("it's")).toBe("'it\\'s'");
    expect(stringLiteral('a\\b')).toBe("'a\\\\b'");
    expect(stringLiteral("\\'; DROP TABLE t; --")).toBe("'\\\\\\'; DROP TABLE t; --'");
    expect(stringLiteral('a\u0000b\nc\u007f')).toBe("'a\\x00b\\x0ac\\x7f'");
    expect(stringLiteral('Zürich 東京 🙂')).toBe("'Zürich 東京 🙂'");
  });

  it('finds each placeholder once, with or without spaces around the name', () => {
    expect(placeholderNames('SELECT {a:String}, { b : Array(Int64)}, {a:String} WHERE x = 1')).toEqual(['a', 'b']);
    expect(placeholderNames('SELECT 1')).toEqual([]);
  });

  it('sets every value before the statement, formatted as the client formats a server parameter', () => {
    expect(withSessionParameters('SELECT {s:String}, {n:Int64}, {xs:Array(String)}', { s: "o'k\t", n: -5, xs: ['a', "b'c"] })).toBe(
      "SET param_s = 'o\\\\\\'k\\\\t', param_n = '-5', param_xs = '[\\'a\\',\\'b\\\\\\'c\\']'; SELECT {s:String}, {n:Int64}, {xs:Array(String)}",
    );
    expect(withSessionParameters('SELECT 1', {})).toBe('SELECT 1');
  });

  it('raises max_query_size first, to what the SET of every value needs, only when the values need more than the default', () => {
    const big = 'x'.repeat(300_000);
    const sql = withSessionParameters('SELECT {b:String}, {s:String}', { b: big, s: 'small' });
    const set = `SET param_b = '${big}', param_s = 'small'`;
    expect(sql).toBe(`SET max_query_size = ${set.length + 1024}; ${set}; SELECT {b:String}, {s:String}`);
    expect(withSessionParameters('SELECT {s:String}', { s: 'x'.repeat(1000) })).not.toContain('max_query_size');
    // Values each under the default that together are over it.
    const half = 'y'.repeat(200_000);
    expect(withSessionParameters('SELECT {a:String}, {b:String}', { a: half, b: half })).toMatch(/^SET max_query_size = \d+; SET param_a = /);
  });

  it('refuses a statement with a placeholder that has no value here, and a name that is not an identifier', () => {
    expect(() => withSessionParameters('SELECT {a:String}, {b:String}', { a: 'x' })).toThrow('query parameter b has no value');
    expect(() => withSessionParameters('SELECT 1', { 'a = 1; DROP': 'x' })).toThrow('invalid query parameter name');
  });
});
