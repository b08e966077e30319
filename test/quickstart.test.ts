import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { start, stop, tempDir } from './server-process.js';

/**
 * The README's quickstart snippet, run as written by bash against a real
 * server; and its summary window, computed by the same shell lines at the
 * edges of months and years (libfaketime fakes the shell's clock: the
 * embedded engine cannot run under it, so the server runs on the real clock).
 */
const ROOT = join(import.meta.dirname, '..');
const LIBFAKETIME = '/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1';
const run = promisify(execFile);

async function quickstartSnippet(): Promise<string> {
  const readme = await readFile(join(ROOT, 'README.md'), 'utf8');
  const block = [...readme.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!).find((b) => b.includes('/v1/usage/summary'));
  if (!block) throw new Error('README has no quickstart snippet that reads /v1/usage/summary');
  return block;
}

describe('README quickstart', () => {
  it('sends two events and finds them in the summary', async () => {
    const key = 'quickstart-admin-key-0123456789';
    const s = await start({ DATA_DIR: await tempDir(), METERHOUSE_API_KEY: key });
    try {
      const script = (await quickstartSnippet()).replace(/^KEY=.*$/m, `KEY=${key}`).replaceAll('localhost:8080', s.url.replace('http://', ''));
      const { stdout } = await run('bash', ['-euo', 'pipefail', '-c', script], { env: { PATH: process.env.PATH ?? '' } });
      const summary = JSON.parse(stdout.slice(stdout.lastIndexOf('{"data"')));
      expect(summary.data).toEqual([
        { customerId: 'acme', metricName: 'api.calls', quantity: '1', events: 1 },
        { customerId: 'acme', metricName: 'compute.seconds', quantity: '12.5', events: 1 },
      ]);
    } finally {
      await stop(s);
    }
  });

  it('computes the summary window as the current UTC month, on any day', async () => {
    const snippet = await quickstartSnippet();
    expect(snippet).toContain('from=$FROM&to=$TO');
    const windowLines = snippet.split('\n').filter((l) => /^(FROM|TO)=/.test(l));
    expect(windowLines).toHaveLength(2);
    // [a UTC instant, the window the snippet must compute then]; the clock keeps running from it
    const cases: [string, string, string][] = [
      ['2027-01-01T00:00:00Z', '2027-01-01T00:00:00Z', '2027-02-01T00:00:00Z'],
      ['2027-12-31T23:59:00Z', '2027-12-01T00:00:00Z', '2028-01-01T00:00:00Z'],
      ['2028-02-29T12:00:00Z', '2028-02-01T00:00:00Z', '2028-03-01T00:00:00Z'],
      ['2027-01-31T23:30:00Z', '2027-01-01T00:00:00Z', '2027-02-01T00:00:00Z'],
    ];
    for (const [now, from, to] of cases) {
      // libfaketime offset in seconds from the real clock; the shell sits in a zone far from UTC (already tomorrow there)
      const offset = Math.ceil((Date.parse(now) - Date.now()) / 1000);
      const env = { PATH: process.env.PATH ?? '', TZ: 'Pacific/Kiritimati', LD_PRELOAD: LIBFAKETIME, FAKETIME: `${offset >= 0 ? '+' : ''}${offset}` };
      const { stdout } = await run('bash', ['-euo', 'pipefail', '-c', `${windowLines.join('\n')}\necho "$FROM $TO"`], { env });
      expect(stdout.trim(), now).toBe(`${from} ${to}`);
    }
  });
});
