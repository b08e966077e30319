import { describe, expect, it } from 'vitest';
import { hasIllFormedText, illFormedPaths, isWellFormed } from './text.js';

const HIGH = '\ud800';
const LOW = '\udc00';

describe('well-formed text', () => {
  it('refuses lone surrogates of either kind, anywhere in the text, and keeps pairs and plain text', () => {
    for (const text of [HIGH, LOW, `a${HIGH}`, `${LOW}b`, `x${LOW}${HIGH}y`]) expect(isWellFormed(text), JSON.stringify(text)).toBe(false);
    for (const text of ['', 'plain', 'é', '\u{1F600}', `${HIGH}${LOW}`, '\u0000']) expect(isWellFormed(text), JSON.stringify(text)).toBe(true);
  });

  it('the writer check agrees with the paths the API reports, for strings, keys, arrays and nesting', () => {
    const cases: unknown[] = [
      'ok',
      `bad${HIGH}`,
      { a: 'ok', b: { c: ['x', `y${LOW}`] } },
      { [`k${HIGH}`]: 'v' },
      { a: 1, b: null, c: true, d: [1, 2, { e: 'f' }] },
      [[[`${LOW}`]]],
      { dimensions: { region: 'eu' }, quantity: '1.5' },
    ];
    for (const value of cases) expect(hasIllFormedText(value), JSON.stringify(value)).toBe(illFormedPaths(value).length > 0);
    expect(illFormedPaths({ a: 'ok', b: { c: ['x', `y${LOW}`] } })).toEqual(['b.c.1']);
    expect(illFormedPaths({ [`k${HIGH}`]: 'v' })).toEqual([`k${HIGH}`]);
  });
});
