import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { probeBucket } from '../sql/s3/client.js';
import { localS3 } from './s3.js';

const run = promisify(execFile);

describe('npm run s3', () => {
  it('prints the settings of a running S3 server and returns; a second call does the same', async () => {
    await localS3(); // started (or found running) first, so the timings below are of the running case
    const cli = () => run(process.execPath, ['--import', 'tsx', 'scripts/s3.ts'], { cwd: join(import.meta.dirname, '..'), timeout: 120_000 });
    const first = await cli();
    const second = await cli();
    expect(second.stdout).toBe(first.stdout);
    const settings = Object.fromEntries(
      first.stdout
        .trim()
        .split('\n')
        .map((line) => line.split(/=(.*)/s).slice(0, 2)),
    );
    expect(Object.keys(settings)).toEqual(['S3_ENDPOINT', 'S3_ACCESS_KEY_ID', 'S3_SECRET_ACCESS_KEY', 'S3_BUCKET', 'S3_REGION']);
    expect(settings.S3_ENDPOINT).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    // The printed settings work: a signed request to the bucket is accepted.
    await probeBucket(
      {
        endpoint: settings.S3_ENDPOINT,
        bucket: settings.S3_BUCKET,
        accessKeyId: settings.S3_ACCESS_KEY_ID,
        secretAccessKey: settings.S3_SECRET_ACCESS_KEY,
        region: settings.S3_REGION,
      },
      5000,
    );
  }, 180_000);
});
