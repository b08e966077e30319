import { execFile } from 'node:child_process';
import { access, readFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { promisify } from 'node:util';
import { CALENDAR, TIME_SENSITIVE } from '../vitest.config.js';
import { describe, expect, it } from 'vitest';

/** What ships and how the suite is split, checked from the files themselves (no Docker engine here). */
const ROOT = join(import.meta.dirname, '..');
const run = promisify(execFile);
const read = (file: string) => readFile(join(ROOT, file), 'utf8');

/** Dockerfile instructions, comments dropped, continuation lines joined. */
async function instructions(): Promise<{ op: string; args: string }[]> {
  const text = (await read('Dockerfile')).replace(/\\\n/g, ' ');
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => {
      const [op, ...rest] = l.split(/\s+/);
      return { op: op!.toUpperCase(), args: rest.join(' ') };
    });
}

const hasCompose = await run('docker-compose', ['version']).then(
  () => true,
  () => false,
);

describe('Docker image', () => {
  it('builds on the current Node LTS and runs node itself as PID 1', async () => {
    const all = await instructions();
    expect(all.find((i) => i.op === 'FROM')?.args).toMatch(/^node:24[-.]/);
    const cmds = all.filter((i) => i.op === 'CMD' || i.op === 'ENTRYPOINT');
    expect(cmds).toHaveLength(1);
    // exec form (a JSON array): no /bin/sh -c, no npm/npx between docker and meterhouse
    expect(JSON.parse(cmds[0]!.args)).toEqual(['node', '--import', 'tsx', 'api/main.ts']);
  });

  it('copies only sources that exist, and keeps node_modules and data out of the build context', async () => {
    for (const { args } of (await instructions()).filter((i) => i.op === 'COPY')) {
      for (const source of args.split(/\s+/).slice(0, -1)) await access(join(ROOT, source));
    }
    const ignored = (await read('.dockerignore')).split('\n').map((l) => l.trim());
    expect(ignored).toEqual(expect.arrayContaining(['node_modules', 'data', '.git']));
  });

  it('copies every folder the server imports from', async () => {
    const copied = new Set(
      (await instructions())
        .filter((i) => i.op === 'COPY')
        .flatMap((i) => i.args.split(/\s+/).slice(0, -1))
        .map((s) => s.replace(/^\.\/|\/$/g, '')),
    );
    // Follow relative imports from api/main.ts through every module it loads.
    const seen = new Set<string>();
    const queue = ['api/main.ts'];
    while (queue.length > 0) {
      const file = queue.pop()!;
      if (seen.has(file)) continue;
      seen.add(file);
      for (const m of (await read(file)).matchAll(/from '(\.{1,2}\/[^']+)\.js'/g)) queue.push(relative(ROOT, resolve(ROOT, dirname(file), `${m[1]}.ts`)));
    }
    const folders = new Set([...seen].map((f) => f.split('/')[0]!));
    for (const folder of folders) expect(copied, `Dockerfile must COPY ${folder}/`).toContain(folder);
  });
});

/** Every file of ours the server loads: relative imports followed from api/main.ts. */
async function importedFiles(entry: string, seen = new Set<string>()): Promise<Set<string>> {
  if (seen.has(entry)) return seen;
  seen.add(entry);
  const source = await read(entry);
  for (const [, spec] of source.matchAll(/^(?:import|export)\s[^;]*?from\s+'(\.{1,2}\/[^']+)'/gms)) {
    await importedFiles(join(entry, '..', spec!).replace(/\.js$/, '.ts'), seen);
  }
  return seen;
}

describe('Docker image sources', () => {
  it('copies every folder the server imports from', async () => {
    const copied = new Set((await instructions()).filter((i) => i.op === 'COPY').flatMap((i) => i.args.split(/\s+/).slice(0, -1)));
    const folders = new Set([...(await importedFiles('api/main.ts'))].map((f) => f.split('/')[0]!));
    expect(folders).toContain('access');
    expect([...folders].filter((f) => !copied.has(f))).toEqual([]);
  });
});

describe('docker-compose.yml', () => {
  it('pins every image to a release', async () => {
    const images = [...(await read('docker-compose.yml')).matchAll(/^\s*image:\s*(\S+)\s*$/gm)].map((m) => m[1]!);
    expect(images.length).toBeGreaterThanOrEqual(4);
    for (const image of images) expect(image).toMatch(/^[a-z0-9./-]+:(?!latest$)[A-Za-z0-9._-]+$/);
  });

  // .ci/run installs Debian's docker-compose, which validates the file without a Docker engine.
  it.skipIf(!hasCompose)('is a valid compose file', async () => {
    await expect(run('docker-compose', ['-f', join(ROOT, 'docker-compose.yml'), 'config', '-q'], { cwd: ROOT })).resolves.toBeDefined();
  });
});

describe('test projects', () => {
  const list = async (...args: string[]) => {
    const { stdout } = await run(process.execPath, [join(ROOT, 'node_modules/vitest/vitest.mjs'), 'list', '--filesOnly', ...args], { cwd: ROOT });
    return stdout
      .split('\n')
      .filter(Boolean)
      .map((l) => l.replace(/^\[[^\]]+\] /, ''))
      .sort();
  };

  it('npm run test:unit runs exactly the tests next to the code; npm test runs those and test/', async () => {
    const [unit, everything] = await Promise.all([list('--project', 'unit'), list()]);
    expect(unit.length).toBeGreaterThan(0);
    for (const file of unit) expect(file).toMatch(/^(api|access|analyst|alerts|ingest|sql|jobs|domain|dashboards|bench|clients\/js\/src)\/.*\.test\.ts$/);
    const integration = [...new Set(everything.filter((f) => f.startsWith('test/')))].sort();
    expect(integration).toContain('test/packaging.test.ts');
    // npm test also runs the time-sensitive files once more at each calendar instant
    const calendar = Object.keys(CALENDAR).flatMap(() => TIME_SENSITIVE);
    for (const file of TIME_SENSITIVE) expect(integration).toContain(file);
    expect(everything).toEqual([...unit, ...integration, ...calendar].sort());
    expect(await list('--project', 'at:leap-day')).toEqual([...TIME_SENSITIVE].sort());
  });
});
