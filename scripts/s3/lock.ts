import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Run `fn` holding a lock directory between processes (mkdir is atomic). A lock
 * whose holder died is taken over; a live holder is waited for, up to a deadline.
 */
export async function withLock<T>(lockDir: string, timeoutMs: number, fn: () => Promise<T>): Promise<T> {
  const owner = `${lockDir}/pid`;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await mkdir(lockDir);
      await writeFile(owner, String(process.pid));
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const holder = Number(await readFile(owner, 'utf8').catch(() => ''));
      // No pid yet: the holder is between mkdir and writeFile; give it a moment before judging.
      if (holder > 0 && !alive(holder)) {
        await rm(lockDir, { recursive: true, force: true });
        continue;
      }
      if (Date.now() > deadline) throw new Error(`${lockDir} is held by PID ${holder || '?'} for more than ${timeoutMs / 1000} s`, { cause: error });
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  try {
    return await fn();
  } finally {
    await rm(lockDir, { recursive: true, force: true });
  }
}
