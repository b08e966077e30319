import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';

/**
 * End to end, as a user runs it: `api/main.ts` in its own process on a data
 * directory, talked to over HTTP on a free port.
 */
const ROOT = join(import.meta.dirname, '..');
const dirs: string[] = [];
const running = new Set<ChildProcess>();

afterAll(async () => {
  for (const p of running) p.kill('SIGKILL');
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

export async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'meterhouse-e2e-'));
  dirs.push(d);
  return d;
}

export interface Server {
  proc: ChildProcess;
  url: string;
  output(): string;
  exited: Promise<number | null>;
}

export function launch(env: Record<string, string>): { proc: ChildProcess; output(): string; exited: Promise<number | null> } {
  const proc = spawn(process.execPath, ['--import', 'tsx', 'api/main.ts'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', PORT: '0', HOST: '127.0.0.1', ENGINE_MAX_MEMORY_BYTES: String(2 * 1024 ** 3), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(proc);
  let out = '';
  proc.stdout!.on('data', (b) => (out += b));
  proc.stderr!.on('data', (b) => (out += b));
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => (running.delete(proc), resolve(code))));
  return { proc, output: () => out, exited };
}

/** Start and wait (polling, with a deadline) for the "listening" log line that carries the port. */
export async function start(env: Record<string, string>): Promise<Server> {
  const p = launch(env);
  const deadline = Date.now() + 30_000;
  let exitCode: number | null | undefined;
  void p.exited.then((c) => (exitCode = c));
  while (Date.now() < deadline) {
    const m = /"port":(\d+)[^\n]*"msg":"listening"/.exec(p.output());
    if (m) return { ...p, url: `http://127.0.0.1:${m[1]}` };
    if (exitCode !== undefined) throw new Error(`server exited (${exitCode}) before listening:\n${p.output()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`server did not listen within 30 s:\n${p.output()}`);
}

export async function stop(s: Server, signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
  s.proc.kill(signal);
  return s.exited;
}

export const post = (s: Server, key: string, body: unknown) =>
  fetch(`${s.url}/v1/events`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });

export const total = async (s: Server, key: string) => {
  const res = await fetch(`${s.url}/v1/usage/summary?from=0&to=${Date.now() + 86_400_000}`, { headers: { authorization: `Bearer ${key}` } });
  return ((await res.json()) as any).data;
};
