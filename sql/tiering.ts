import type { S3Target } from './s3/client.js';

/**
 * Tiered storage of usage_events: recent parts on the local disk, older parts
 * on an S3 disk. The hot volume must be called `default`: ClickHouse lets an
 * existing table (created with the default policy, whose one volume is
 * `default`) switch policy with MODIFY SETTING only if the new policy keeps
 * every volume of the old one.
 */
export const STORAGE_POLICY = 'tiered';
export const HOT_VOLUME = 'default';
export const COLD_VOLUME = 'cold';
export const COLD_DISK = 's3';

/** An S3 bucket and key prefix to keep cold parts in, and how hard to try reaching it. */
export interface S3Storage extends S3Target {
  /** Key prefix inside the bucket ('' or ending in '/'); parts go under `<prefix>parts/`. */
  prefix: string;
  /** Attempts per S3 request before the engine gives up (ClickHouse's default is 500). */
  retryAttempts: number;
  connectTimeoutMs: number;
}

/** The key prefix the s3 disk writes its objects under. */
export const partsPrefix = (s3: Pick<S3Storage, 'prefix'>) => `${s3.prefix}parts/`;

/** The s3 disk's endpoint: path-style URL of the bucket plus the parts prefix. */
export function diskEndpoint(s3: Pick<S3Storage, 'endpoint' | 'bucket' | 'prefix'>): string {
  return `${s3.endpoint.replace(/\/+$/, '')}/${s3.bucket}/${partsPrefix(s3)}`;
}
