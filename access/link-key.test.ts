import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SIGNING_KEY_FILE, linkSigningKey } from './link-key.js';

let dir: string | undefined;
afterEach(async () => dir && rm(dir, { recursive: true, force: true }));

describe('the link signing key', () => {
  it('is generated into the data directory once, readable by its owner only, and read back on later starts', async () => {
    dir = await mkdtemp(join(tmpdir(), 'link-key-'));
    const first = await linkSigningKey(undefined, dir);
    expect(first.source).toBe('created');
    expect(first.key.length).toBeGreaterThanOrEqual(43);
    expect((await stat(join(dir, SIGNING_KEY_FILE))).mode & 0o777).toBe(0o600);
    expect(await linkSigningKey(undefined, dir)).toEqual({ key: first.key, source: 'data-dir' });
  });

  it('comes from PORTAL_SIGNING_KEY when set, and a damaged key file stops startup', async () => {
    dir = await mkdtemp(join(tmpdir(), 'link-key-'));
    expect(await linkSigningKey('configured-key-0123456789abcdef', dir)).toEqual({ key: 'configured-key-0123456789abcdef', source: 'config' });
    await writeFile(join(dir, SIGNING_KEY_FILE), 'short\n');
    await expect(linkSigningKey(undefined, dir)).rejects.toThrow(/no usable key/);
    expect(await readFile(join(dir, SIGNING_KEY_FILE), 'utf8')).toBe('short\n');
  });
});
