/**
 * Builds the Kafka-protocol test broker (scripts/kafka-broker/mock-broker.c
 * linked against a patched librdkafka) into .cache/kafka-broker/ and returns
 * the binary's path. The one place that knows how; used by
 * scripts/kafka-broker.ts and test/kafka-broker.ts.
 *
 * Cache layout (all keyed, so a change of any input rebuilds what it affects):
 *   dl/<tarball>                      the npm package that vendors librdkafka
 *   librdkafka-<version>-<libKey>/    patched static lib + the 3 headers we use
 *   mock-broker-<binKey>              the program
 * Every entry is built in a private temp dir and renamed into place, so
 * concurrent builders (parallel test workers) never see half-built files.
 *
 * Needs gcc, make and libc6-dev (see scripts/kafka-broker/README.md), plus
 * npm and tar, and npm-registry access on the first run only.
 */
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream, existsSync } from 'node:fs';
import { cp, mkdir, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { applyPatches, PATCHES } from './kafka-broker/patches.js';

const HERE = dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = resolve(HERE, '..');
export const CACHE_DIR = join(REPO_ROOT, '.cache', 'kafka-broker');
const C_SOURCE = join(HERE, 'kafka-broker', 'mock-broker.c');

/** librdkafka comes vendored in this npm package (deps/librdkafka). */
const SOURCE_PACKAGE = {
  spec: '@confluentinc/kafka-javascript@1.10.1',
  tarball: 'confluentinc-kafka-javascript-1.10.1.tgz',
  integrity: 'sha512-KVePUBn21EqCVP9mfxzEuM3SYJHHEF7X+iiC2e43QQgDSyEaksInmCGooT3w5q+cNAdkSCrK71j0ICfqoSqZLw==',
  librdkafkaDir: 'package/deps/librdkafka',
  librdkafkaVersion: '2.15.1',
} as const;

/** Bump to force a rebuild when the build procedure changes in a way the keys below don't capture. */
const BUILD_VERSION = 1;

// Everything optional is off, so the result does not depend on which -dev packages the host has
// (the mock never (de)compresses: it stores and serves record batches as produced).
const CONFIGURE_FLAGS = ['--disable-ssl', '--disable-gssapi', '--disable-curl', '--disable-zstd', '--disable-lz4-ext', '--disable-zlib'];
const CFLAGS = ['-O2', '-Wall'];
const HEADERS = ['rdkafka.h', 'rdkafka_mock.h', 'rdkafka_protocol.h'];

function sha256(...parts: (string | Buffer)[]): string {
  const h = createHash('sha256');
  for (const p of parts) h.update(p).update('\0');
  return h.digest('hex').slice(0, 16);
}

function run(cmd: string, args: string[], opts: { cwd: string; log: string; env?: NodeJS.ProcessEnv }): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const out = createWriteStream(opts.log, { flags: 'a' });
    out.write(`\n$ ${cmd} ${args.join(' ')}\n`);
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.pipe(out, { end: false });
    child.stderr.pipe(out, { end: false });
    child.on('error', (err) => {
      out.end();
      reject(new Error(`${cmd}: ${err.message}`));
    });
    child.on('close', (code, signal) => {
      out.end(() => {
        if (code === 0) resolvePromise();
        else reject(new Error(`${cmd} ${args.join(' ')} failed (${signal ?? `exit ${code}`}) in ${opts.cwd}`));
      });
    });
  });
}

async function tail(file: string, lines = 30): Promise<string> {
  try {
    return (await readFile(file, 'utf8')).trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

async function commandWorks(cmd: string): Promise<boolean> {
  return new Promise((res) => {
    const child = spawn(cmd, ['--version'], { stdio: 'ignore' });
    child.on('error', () => res(false));
    child.on('close', (code) => res(code === 0));
  });
}

const PREREQS = 'apt-get install gcc make libc6-dev (see scripts/kafka-broker/README.md)';

/** Fails early, with the packages to install, instead of deep inside configure. */
async function checkToolchain(dir: string): Promise<void> {
  for (const tool of ['gcc', 'make', 'tar']) {
    if (!(await commandWorks(tool))) throw new Error(`building the Kafka test broker needs \`${tool}\`: ${PREREQS}`);
  }
  const probe = join(dir, 'probe.c');
  await writeFile(probe, '#include <pthread.h>\n#include <stdio.h>\nint main(void) { return 0; }\n');
  try {
    await run('gcc', ['-o', join(dir, 'probe'), probe, '-lpthread'], { cwd: dir, log: join(dir, 'probe.log') });
  } catch {
    throw new Error(
      `building the Kafka test broker needs C library headers (gcc cannot compile a hello world): ${PREREQS}\n${await tail(join(dir, 'probe.log'), 5)}`,
    );
  }
}

function tempPath(base: string): string {
  return join(CACHE_DIR, `tmp-${base}-${process.pid}-${randomBytes(4).toString('hex')}`);
}

/** Moves a finished temp entry into place; if another builder got there first, keeps theirs. */
async function publish(tmp: string, final: string): Promise<void> {
  try {
    await rename(tmp, final);
  } catch (err) {
    if (!existsSync(final)) throw err;
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

/** Removes cache entries named `<prefix><other key>`: builds for inputs that have since changed. */
async function pruneOthers(prefix: string, keep: string): Promise<void> {
  for (const name of await readdir(CACHE_DIR).catch(() => [] as string[])) {
    if (name.startsWith(prefix) && join(CACHE_DIR, name) !== keep) await rm(join(CACHE_DIR, name), { recursive: true, force: true });
  }
}

/** Removes temp dirs left behind by builds that were killed (older than an hour). */
async function sweepStaleTemps(): Promise<void> {
  for (const name of await readdir(CACHE_DIR).catch(() => [] as string[])) {
    if (!name.startsWith('tmp-')) continue;
    const p = join(CACHE_DIR, name);
    const s = await stat(p).catch(() => undefined);
    if (s && Date.now() - s.mtimeMs > 3600_000) await rm(p, { recursive: true, force: true });
  }
}

async function ensureTarball(log: (msg: string) => void): Promise<string> {
  const dl = join(CACHE_DIR, 'dl');
  const final = join(dl, SOURCE_PACKAGE.tarball);
  if (!existsSync(final)) {
    await mkdir(dl, { recursive: true });
    const tmp = tempPath('dl');
    await mkdir(tmp, { recursive: true });
    log(`fetching ${SOURCE_PACKAGE.spec} (librdkafka ${SOURCE_PACKAGE.librdkafkaVersion} source) with npm pack`);
    const npmLog = join(tmp, 'npm.log');
    try {
      await run('npm', ['pack', SOURCE_PACKAGE.spec, '--pack-destination', tmp, '--loglevel=error'], { cwd: tmp, log: npmLog });
      await publish(join(tmp, SOURCE_PACKAGE.tarball), final);
    } catch (err) {
      throw new Error(`kafka-broker: fetching ${SOURCE_PACKAGE.spec} failed: ${(err as Error).message}\n${await tail(npmLog)}`, { cause: err });
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  }
  const [algo, expected] = SOURCE_PACKAGE.integrity.split('-', 2) as [string, string];
  const actual = createHash(algo)
    .update(await readFile(final))
    .digest('base64');
  if (actual !== expected) {
    await rm(final, { force: true });
    throw new Error(`${final}: integrity mismatch (expected ${SOURCE_PACKAGE.integrity}); removed it, try again`);
  }
  return final;
}

const libKey = sha256(
  String(BUILD_VERSION),
  SOURCE_PACKAGE.integrity,
  CONFIGURE_FLAGS.join(' '),
  JSON.stringify(PATCHES.map((p) => [p.file, p.find, p.replace])),
);

async function ensureLibrdkafka(log: (msg: string) => void): Promise<string> {
  const final = join(CACHE_DIR, `librdkafka-${SOURCE_PACKAGE.librdkafkaVersion}-${libKey}`);
  if (existsSync(join(final, 'libs.txt'))) return final;

  const tmp = tempPath('lib');
  const src = join(tmp, 'src-tree');
  await mkdir(src, { recursive: true });
  const buildLog = join(tmp, 'build.log');
  let tarball: string;
  try {
    await checkToolchain(tmp);
    tarball = await ensureTarball(log);
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw err;
  }
  const started = Date.now();
  log(`building librdkafka ${SOURCE_PACKAGE.librdkafkaVersion} with ${PATCHES.length} mock patches (first run only, ~30-60 s)`);
  try {
    await run('tar', ['-xzf', tarball, '-C', src, '--strip-components=3', SOURCE_PACKAGE.librdkafkaDir], { cwd: tmp, log: buildLog });

    const originals = new Map<string, string>();
    for (const p of PATCHES) originals.set(p.file, await readFile(join(src, p.file), 'utf8'));
    for (const [file, text] of applyPatches(originals)) await writeFile(join(src, file), text);

    const version = (await readFile(join(src, 'src', 'rdkafka.h'), 'utf8')).match(/#define RD_KAFKA_VERSION\s+0x([0-9a-f]{8})/);
    const hex = version?.[1];
    const got = hex ? [0, 2, 4].map((i) => parseInt(hex.slice(i, i + 2), 16)).join('.') : 'unknown';
    if (got !== SOURCE_PACKAGE.librdkafkaVersion) {
      throw new Error(`expected librdkafka ${SOURCE_PACKAGE.librdkafkaVersion} in ${SOURCE_PACKAGE.spec}, found ${got}`);
    }

    // configure insists on a C++ compiler although we only build the C library;
    // let it find the C compiler under that name so g++ is not a prerequisite.
    const env = { ...process.env, CXX: process.env.CXX ?? process.env.CC ?? 'gcc' };
    await run('./configure', CONFIGURE_FLAGS, { cwd: src, log: buildLog, env });
    const jobs = String(Math.max(1, availableParallelism()));
    await run('make', ['-C', 'src', `-j${jobs}`, 'librdkafka.a'], { cwd: src, log: buildLog, env });

    const config = await readFile(join(src, 'Makefile.config'), 'utf8');
    const libs = [...config.matchAll(/^LIBS\+?=(.*)$/gm)].flatMap((m) => (m[1] ?? '').trim().split(/\s+/)).filter(Boolean);
    const unique = libs.filter((l, i) => libs.indexOf(l) === i);

    // Keep only what the program build needs, not the whole build tree.
    const result = join(tmp, 'result');
    await mkdir(join(result, 'include'), { recursive: true });
    for (const h of HEADERS) await cp(join(src, 'src', h), join(result, 'include', h));
    await cp(join(src, 'src', 'librdkafka.a'), join(result, 'librdkafka.a'));
    await cp(join(src, 'LICENSE'), join(result, 'LICENSE'));
    await writeFile(join(result, 'libs.txt'), `${unique.join(' ')}\n`);
    await publish(result, final);
  } catch (err) {
    const kept = join(CACHE_DIR, 'last-failed-build.log');
    await cp(buildLog, kept).catch(() => undefined);
    throw new Error(`kafka-broker: librdkafka build failed: ${(err as Error).message}\n--- ${kept} (tail) ---\n${await tail(kept)}`, { cause: err });
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  log(`librdkafka built in ${((Date.now() - started) / 1000).toFixed(1)} s -> ${final}`);
  await pruneOthers('librdkafka-', final);
  return final;
}

let pending: Promise<string> | undefined;

/**
 * Returns the path of the mock broker binary, building librdkafka and the
 * program first if the cache has no build for the current inputs.
 */
export function ensureKafkaBroker(opts: { log?: (msg: string) => void } = {}): Promise<string> {
  pending ??= build(opts.log ?? ((msg) => process.stderr.write(`kafka-broker: ${msg}\n`))).catch((err: unknown) => {
    pending = undefined;
    throw err;
  });
  return pending;
}

async function build(log: (msg: string) => void): Promise<string> {
  await mkdir(CACHE_DIR, { recursive: true });
  await sweepStaleTemps();
  const source = await readFile(C_SOURCE);
  const binKey = sha256(libKey, source, CFLAGS.join(' '));
  const binary = join(CACHE_DIR, `mock-broker-${binKey}`);
  if (existsSync(binary)) return binary;

  const lib = await ensureLibrdkafka(log);
  const libs = (await readFile(join(lib, 'libs.txt'), 'utf8')).trim().split(/\s+/).filter(Boolean);
  const tmp = tempPath('bin');
  await mkdir(tmp, { recursive: true });
  const buildLog = join(tmp, 'build.log');
  try {
    const out = join(tmp, 'mock-broker');
    await run('gcc', [...CFLAGS, '-isystem', join(lib, 'include'), '-o', out, C_SOURCE, join(lib, 'librdkafka.a'), ...libs], { cwd: tmp, log: buildLog });
    await publish(out, binary);
  } catch (err) {
    throw new Error(`kafka-broker: compiling ${C_SOURCE} failed: ${(err as Error).message}\n${await tail(buildLog)}`, { cause: err });
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  log(`built ${binary}`);
  await pruneOthers('mock-broker-', binary);
  return binary;
}
