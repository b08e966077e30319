import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { promisify } from 'node:util';

/** Commands, ports and waits on this machine, for the local S3 server (scripts/s3/ceph.ts) and the tests' helpers. */

export const run = promisify(execFile);

export async function tool(command: string, args: string[], timeoutMs = 60_000): Promise<string> {
  try {
    const { stdout } = await run(command, args, { timeout: timeoutMs });
    return stdout;
  } catch (error) {
    const e = error as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === 'ENOENT')
      throw new Error(`${command} is not installed: apt-get install -y --no-install-recommends ceph-mon ceph-osd radosgw`, { cause: error });
    throw new Error(`${command} ${args[0] ?? ''} failed: ${e.stderr?.trim() || e.message}`, { cause: error });
  }
}

export function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** A TCP port free on 127.0.0.1 now (the OS picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export async function waitFor(what: string, deadlineMs: number, check: () => Promise<boolean>, logFile?: string): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  const tail = logFile ? (await readFile(logFile, 'utf8').catch(() => '')).split('\n').slice(-15).join('\n') : '';
  throw new Error(`${what} within ${deadlineMs / 1000} s${tail ? `; last lines of ${logFile}:\n${tail}` : ''}`);
}
