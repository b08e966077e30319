import { spawn } from 'node:child_process';
import { join } from 'node:path';

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
