import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { renderConfigReference, undocumentedSettings } from './config-reference.js';

describe('configuration reference', () => {
  it('describes every setting the config schema accepts', () => {
    expect(undocumentedSettings()).toEqual([]);
  });

  it('docs/configuration.md is the current rendering (run npm run docs:config)', () => {
    const file = readFileSync(new URL('../docs/configuration.md', import.meta.url), 'utf8');
    expect(file).toBe(renderConfigReference());
  });

  it('takes defaults and ranges from the schema', () => {
    const text = renderConfigReference();
    expect(text).toContain('| `PORT` | `8080` | integer 0 to 65535 |');
    expect(text).toContain('| `LOG_LEVEL` | `info` | `trace`, `debug`, `info`, `warn`, `error`, `fatal`, `silent` |');
    expect(text).toContain('| `RAW_RETENTION_DAYS` | unset | integer 1 to 100000 |');
  });
});
