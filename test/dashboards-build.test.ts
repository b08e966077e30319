import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { build } from 'vite';
import { describe, expect, it } from 'vitest';
import { DIST } from '../api/dashboard-pages.js';

const CONFIG = join(import.meta.dirname, '..', 'dashboards', 'vite.config.ts');

async function files(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const e of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (e.isFile()) out.set(relative(dir, join(e.parentPath, e.name)), await readFile(join(e.parentPath, e.name), 'utf8'));
  }
  return out;
}

/**
 * The served pages are the committed build (dashboards/dist), so the image and
 * a fresh `npm install` need no build step. This rebuilds the sources into a
 * temporary directory and requires the very same files: a change to a page
 * without `npm run build:dashboards` fails here.
 */
describe('dashboards/dist', () => {
  it('is exactly the build of dashboards/ sources', async () => {
    const out = await mkdtemp(join(tmpdir(), 'meterhouse-dashboards-'));
    try {
      await build({ configFile: CONFIG, logLevel: 'silent', build: { outDir: out, emptyOutDir: true } });
      const [built, committed] = await Promise.all([files(out), files(DIST)]);
      expect([...committed.keys()].sort(), 'run npm run build:dashboards and commit dashboards/dist').toEqual([...built.keys()].sort());
      for (const [name, text] of built) expect(committed.get(name), `${name} differs from its build: run npm run build:dashboards`).toBe(text);
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  }, 60_000);
});
