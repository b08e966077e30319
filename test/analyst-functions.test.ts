import { describe, expect, it } from 'vitest';
import { engine } from './harness.js';
import { ALLOWED_FUNCTIONS, ALLOWED_TABLE_FUNCTIONS, DENIED_FUNCTIONS, DENIED_TABLE_FUNCTIONS } from '../analyst/reviewed-functions.js';
import { isAllowedFunction } from '../analyst/policy.js';

async function names(query: string): Promise<string[]> {
  const r = await engine();
  const result = await r.deps.db.client.query({ query, format: 'JSONEachRow' });
  return (await result.json<{ name: string }>()).map((row) => row.name);
}

const denied = Object.values(DENIED_FUNCTIONS).flat();

describe('the reviewed function lists', () => {
  it('cover every function the engine offers: a new one fails here until it is reviewed into a list', async () => {
    const reviewed = new Set([...ALLOWED_FUNCTIONS, ...denied]);
    const unreviewed = (await names('SELECT name FROM system.functions ORDER BY name')).filter((n) => !reviewed.has(n));
    expect(unreviewed, 'add each to ALLOWED_FUNCTIONS or DENIED_FUNCTIONS in analyst/reviewed-functions.ts after reviewing what it does').toEqual([]);
  });

  it('cover every table function the engine offers', async () => {
    const reviewed = new Set([...ALLOWED_TABLE_FUNCTIONS, ...DENIED_TABLE_FUNCTIONS]);
    expect((await names('SELECT name FROM system.table_functions ORDER BY name')).filter((n) => !reviewed.has(n))).toEqual([]);
  });

  it('never allow a denied function, not even through a combinator or another letter case', () => {
    expect(ALLOWED_FUNCTIONS.filter((f) => denied.includes(f))).toEqual([]);
    for (const f of denied) {
      for (const form of [f, `${f}If`, `${f}OrNull`, `${f}State`, f.toUpperCase()]) expect(isAllowedFunction(form), form).toBe(false);
    }
    expect(ALLOWED_TABLE_FUNCTIONS.filter((f) => DENIED_TABLE_FUNCTIONS.includes(f))).toEqual([]);
  });

  it('refuse the functions the issue names: file, url, dictGet*, joinGet*, getSetting, introspection, sleep', () => {
    for (const f of [
      'file',
      'dictGet',
      'dictGetString',
      'dictHas',
      'joinGet',
      'joinGetOrNull',
      'getSetting',
      'getSettingOrDefault',
      'addressToSymbol',
      'demangle',
      'sleep',
      'sleepEachRow',
    ])
      expect(isAllowedFunction(f), f).toBe(false);
    expect(ALLOWED_TABLE_FUNCTIONS).not.toContain('url');
  });
});
