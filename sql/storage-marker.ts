import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { S3Storage } from './tiering.js';

/**
 * Where a data directory keeps its cold parts. The engine keeps only metadata
 * for them locally, so opening the directory later needs the same bucket and
 * prefix again; this record (no secrets in it) lets a misconfigured start say
 * so instead of failing inside the engine.
 */
interface StorageRecord {
  bucket: string;
  prefix: string;
}

const S3_VARS = 'S3_ENDPOINT, S3_BUCKET, S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY and S3_REGION';

/** Returns why this data directory cannot be opened with these S3 settings, or undefined. */
export async function checkStorageRecord(configDir: string, dataDir: string, s3: S3Storage | undefined): Promise<string | undefined> {
  const file = join(configDir, 'storage.json');
  const text = await readFile(file, 'utf8').catch(() => undefined);
  const record = text === undefined ? undefined : (JSON.parse(text) as StorageRecord);
  if (!s3) {
    if (!record) return undefined;
    return `Cannot open DATA_DIR ${dataDir} without S3: it keeps older usage_events parts in bucket "${record.bucket}" under prefix "${record.prefix}"; set ${S3_VARS} (and S3_PREFIX) to open it`;
  }
  if (record && (record.bucket !== s3.bucket || record.prefix !== s3.prefix)) {
    return `Cannot open DATA_DIR ${dataDir}: its parts on S3 are in bucket "${record.bucket}" under prefix "${record.prefix}", but S3_BUCKET/S3_PREFIX say "${s3.bucket}"/"${s3.prefix}"`;
  }
  if (!record) await writeFile(file, `${JSON.stringify({ bucket: s3.bucket, prefix: s3.prefix } satisfies StorageRecord)}\n`);
  return undefined;
}
