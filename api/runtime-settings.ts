import type { ConnectOptions } from '../sql/connect.js';
import type { ReadLimits } from '../sql/query.js';
import type { S3Storage } from '../sql/tiering.js';
import type { BillingSettings } from '../jobs/billing/lines.js';
import type { Clock } from '../domain/clock.js';
import { defaultCycle, type Config } from './config.js';

/** What the runtime (api/runtime.ts), the CLI and the scripts derive from the configuration: engine, S3, read bounds, billing. */

/** The cold tier's bucket, when S3 is configured (config.ts makes the five settings all-or-none). */
export function s3Storage(config: Config): S3Storage | undefined {
  const { S3_ENDPOINT: endpoint, S3_BUCKET: bucket, S3_ACCESS_KEY_ID: accessKeyId, S3_SECRET_ACCESS_KEY: secretAccessKey, S3_REGION: region } = config;
  if (!endpoint || !bucket || !accessKeyId || !secretAccessKey || !region) return undefined;
  return {
    endpoint,
    bucket,
    accessKeyId,
    secretAccessKey,
    region,
    prefix: config.S3_PREFIX,
    retryAttempts: config.S3_RETRY_ATTEMPTS,
    connectTimeoutMs: config.S3_CONNECT_TIMEOUT_MS,
  };
}

export function connectOptions(config: Config): ConnectOptions {
  const database = config.CLICKHOUSE_DATABASE;
  const s3 = s3Storage(config);
  if (config.CLICKHOUSE_URL) {
    return {
      s3,
      readers: config.READ_MAX_CONCURRENT,
      mode: 'server',
      database,
      url: config.CLICKHOUSE_URL,
      username: config.CLICKHOUSE_USER,
      password: config.CLICKHOUSE_PASSWORD,
      requestTimeoutMs: config.CLICKHOUSE_REQUEST_TIMEOUT_MS,
    };
  }
  return {
    s3,
    readers: config.READ_MAX_CONCURRENT,
    analysts: { count: config.SQL_MAX_CONCURRENT },
    mode: 'embedded',
    database,
    dataDir: config.DATA_DIR,
    limits: {
      maxServerMemoryBytes: config.ENGINE_MAX_MEMORY_BYTES,
      markCacheBytes: config.ENGINE_MARK_CACHE_BYTES,
      backgroundPoolSize: config.ENGINE_BACKGROUND_POOL_SIZE,
      mergeThreadsNice: config.ENGINE_MERGE_NICE,
      fsyncAfterInsert: config.ENGINE_FSYNC,
      kafkaSessionTimeoutMs: config.KAFKA_BROKERS ? config.KAFKA_SESSION_TIMEOUT_MS : undefined,
    },
  };
}

/** The engine-side bounds of every API read (docs/api.md, "Limits"). */
export function readLimits(config: Config): ReadLimits {
  return {
    max_execution_time: config.READ_MAX_EXECUTION_SECONDS,
    max_rows_to_read: config.READ_MAX_ROWS_TO_READ,
    max_memory_usage: config.READ_MAX_MEMORY_BYTES,
    max_result_rows: config.READ_MAX_RESULT_ROWS,
    max_result_bytes: config.READ_MAX_RESULT_BYTES,
    max_threads: config.READ_MAX_THREADS,
    os_thread_priority: config.READ_OS_THREAD_PRIORITY,
  };
}

export function billingSettings(config: Config, clock: Clock): BillingSettings {
  return {
    clockOffsetMs: clock.offsetMs,
    graceMs: config.BILLING_GRACE_SECONDS * 1000,
    cutoffLagMs: config.BILLING_CUTOFF_LAG_MS,
    defaultCycle: defaultCycle(config),
  };
}
