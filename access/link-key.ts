import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export const SIGNING_KEY_FILE = 'link-signing-key';

/**
 * The key dashboard and console links are signed with: PORTAL_SIGNING_KEY when
 * set (several instances must share it: set the same value on each), otherwise
 * one generated on the first start into the data directory (mode 0600) and
 * read from there afterwards, so links survive restarts of a single instance.
 */
export async function linkSigningKey(configured: string | undefined, dataDir: string): Promise<{ key: string; source: 'config' | 'created' | 'data-dir' }> {
  if (configured) return { key: configured, source: 'config' };
  const file = join(dataDir, SIGNING_KEY_FILE);
  try {
    const stored = (await readFile(file, 'utf8')).trim();
    if (stored.length < 24)
      throw new Error(`${file} holds no usable key (fewer than 24 characters): remove it to have a new one made, or set PORTAL_SIGNING_KEY`);
    return { key: stored, source: 'data-dir' };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const key = randomBytes(32).toString('base64url');
  await mkdir(dataDir, { recursive: true });
  // 'wx': two processes starting at once never overwrite each other's key.
  try {
    await writeFile(file, `${key}\n`, { mode: 0o600, flag: 'wx' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return linkSigningKey(undefined, dataDir);
    throw error;
  }
  return { key, source: 'created' };
}
