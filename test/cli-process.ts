import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { expect } from 'vitest';

/** `meterhouse <args>` as an operator runs it: the package's bin, in its own process, on a data directory. */
const ROOT = join(import.meta.dirname, '..');
export function cli(dataDir: string, ...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return cliWith({}, dataDir, ...args);
}

/** The same, with settings of the operator's environment (`env`, e.g. ROLLUP_RECONCILE_SETTLE_SECONDS). */
export function cliWith(env: Record<string, string>, dataDir: string, ...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const proc = spawn(process.execPath, ['cli/meterhouse.mjs', ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', DATA_DIR: dataDir, ENGINE_MAX_MEMORY_BYTES: String(2 * 1024 ** 3), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  proc.stdout.on('data', (b) => (stdout += b));
  proc.stderr.on('data', (b) => (stderr += b));
  return new Promise((resolve) => proc.on('exit', (code) => resolve({ code, stdout, stderr })));
}

/** `meterhouse --json <args>` (with `env`, as cliWith), expected to succeed, its output parsed. */
export async function cliJsonWith(env: Record<string, string>, dataDir: string, ...args: string[]): Promise<any> {
  const r = await cliWith(env, dataDir, '--json', ...args);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout);
}

/** `meterhouse --json <args>`, expected to succeed, its output parsed. */
export const cliJson = (dataDir: string, ...args: string[]): Promise<any> => cliJsonWith({}, dataDir, ...args);
