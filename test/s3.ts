import { randomUUID } from 'node:crypto';
import { ensureLocalS3, type LocalS3 } from '../scripts/s3/ceph.js';
import type { S3Target } from '../sql/s3/client.js';

/**
 * The machine's local S3 server (Ceph RGW, scripts/s3/ceph.ts): started on
 * first use (~20 s the first time on a machine, ~5 s after a stop), shared by
 * every test process. Tests isolate themselves by key prefix.
 */
let local: Promise<LocalS3> | undefined;

export function localS3(): Promise<LocalS3> {
  local ??= ensureLocalS3();
  return local;
}

export interface TestS3 {
  /** Environment for loadConfig: the five S3_* settings and a prefix of this test's own. */
  env: Record<string, string>;
  bucket: S3Target;
  prefix: string;
}

export async function testS3(): Promise<TestS3> {
  const s3 = await localS3();
  const prefix = `test-${randomUUID().slice(0, 8)}/`;
  return {
    env: {
      S3_ENDPOINT: s3.endpoint,
      S3_BUCKET: s3.bucket,
      S3_ACCESS_KEY_ID: s3.accessKeyId,
      S3_SECRET_ACCESS_KEY: s3.secretAccessKey,
      S3_REGION: s3.region,
      S3_PREFIX: prefix,
    },
    bucket: s3,
    prefix,
  };
}

/** Poll `check` (every 200 ms) until it holds; past the deadline, fail naming what was awaited and the last value seen. */
export async function pollUntil<T>(what: string, read: () => Promise<T>, check: (value: T) => boolean, timeoutMs = 90_000): Promise<{ value: T; ms: number }> {
  const started = Date.now();
  for (;;) {
    const value = await read();
    if (check(value)) return { value, ms: Date.now() - started };
    if (Date.now() - started > timeoutMs) throw new Error(`waited ${timeoutMs} ms for ${what}; last seen: ${JSON.stringify(value)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
