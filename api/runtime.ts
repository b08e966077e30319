import { connect, type Connection, type ConnectOptions } from '../sql/connect.js';
import { migrate } from '../sql/migrations.js';
import { DirectWriter } from '../ingest/writer.js';
import type { Config } from './config.js';
import type { AppDeps } from './context.js';
import { KeyStore } from './keys.js';
import type { Logger } from './logger.js';
import { createApp } from './app.js';
import { applyEventsRetention, applyRollupRetention } from '../sql/retention.js';
import type { S3Storage } from '../sql/tiering.js';
import { loadMetersFile } from './meters-file.js';
import { reconcileRollups } from '../jobs/reconcile-rollups.js';
import { startJobs, type Job } from '../jobs/scheduler.js';

export interface Runtime {
  app: ReturnType<typeof createApp>;
  deps: AppDeps;
  connection: Connection;
  /** Set on the first start of a data directory without METERHOUSE_API_KEY: shown once, never stored. */
  createdAdminKey?: string | undefined;
  /** The scheduled jobs (rollup reconciliation); started by the server, not by tests. */
  jobs: Job[];
  startJobs(): void;
  /** Stop jobs, flush buffered events, then close the engine. */
  close(): Promise<void>;
}

/** The cold tier's bucket, when S3 is configured (config.ts makes the five settings all-or-none). */
export function s3Storage(config: Config): S3Storage | undefined {
  const { S3_ENDPOINT: endpoint, S3_BUCKET: bucket, S3_ACCESS_KEY_ID: accessKeyId, S3_SECRET_ACCESS_KEY: secretAccessKey, S3_REGION: region } = config;
  if (!endpoint || !bucket || !accessKeyId || !secretAccessKey || !region) return undefined;
  return { endpoint, bucket, accessKeyId, secretAccessKey, region, prefix: config.S3_PREFIX, retryAttempts: config.S3_RETRY_ATTEMPTS, connectTimeoutMs: config.S3_CONNECT_TIMEOUT_MS };
}

export function connectOptions(config: Config): ConnectOptions {
  const database = config.CLICKHOUSE_DATABASE;
  const s3 = s3Storage(config);
  if (config.CLICKHOUSE_URL) {
    return {
      s3,
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
    mode: 'embedded',
    database,
    dataDir: config.DATA_DIR,
    limits: {
      maxServerMemoryBytes: config.ENGINE_MAX_MEMORY_BYTES,
      markCacheBytes: config.ENGINE_MARK_CACHE_BYTES,
      backgroundPoolSize: config.ENGINE_BACKGROUND_POOL_SIZE,
      fsyncAfterInsert: config.ENGINE_FSYNC,
    },
  };
}

/** Open the engine, apply migrations, bootstrap the default tenant and build the app. */
export async function startRuntime(config: Config, logger: Logger): Promise<Runtime> {
  const connection = await connect(connectOptions(config));
  try {
    const { db } = connection;
    const applied = await migrate(db, { cluster: config.CLICKHOUSE_CLUSTER });
    if (applied.length > 0) logger.info({ applied }, 'migrations applied');
    const retention = { minute: config.ROLLUP_MINUTE_RETENTION_DAYS, hour: config.ROLLUP_HOUR_RETENTION_DAYS, day: config.ROLLUP_DAY_RETENTION_DAYS };
    const retentionChanged = await applyRollupRetention(db, retention, config.CLICKHOUSE_CLUSTER);
    if (retentionChanged.length > 0) logger.info({ tables: retentionChanged, retention }, 'rollup retention applied');
    const events = { hotDays: s3Storage(config) ? config.HOT_RETENTION_DAYS : undefined, rawDays: config.RAW_RETENTION_DAYS };
    const eventsChanged = await applyEventsRetention(db, events, config.CLICKHOUSE_CLUSTER);
    if (eventsChanged.length > 0) logger.info({ changed: eventsChanged, ...events }, 'usage_events storage and retention applied');
    if (config.METERS_FILE) logger.info(await loadMetersFile(db, config.METERS_FILE), 'meters file loaded');
    const keys = new KeyStore(db, config.API_KEY_CACHE_SECONDS);
    const { createdSecret } = await keys.bootstrap(config.METERHOUSE_API_KEY);
    const writer = new DirectWriter(
      db,
      { batchRows: config.WRITER_BATCH_ROWS, flushIntervalMs: config.WRITER_FLUSH_INTERVAL_MS, maxQueuedEvents: config.WRITER_MAX_QUEUED_EVENTS },
      (error, events) => logger.error({ events, err: error instanceof Error ? error.message : String(error) }, 'ingest batch failed; nothing of it was acknowledged'),
    );
    const deps: AppDeps = { db, writer, keys, config, logger };
    const jobs: Job[] = [
      { name: 'rollups.reconcile', cron: config.ROLLUP_RECONCILE_CRON, run: () => reconcileRollups(db, { cluster: config.CLICKHOUSE_CLUSTER }) },
    ];
    let scheduler: { stop(): Promise<void> } | undefined;
    return {
      app: createApp(deps),
      deps,
      connection,
      createdAdminKey: createdSecret,
      jobs,
      startJobs() {
        scheduler ??= startJobs(jobs, logger);
      },
      async close() {
        await scheduler?.stop();
        await writer.close();
        await connection.close();
      },
    };
  } catch (error) {
    await connection.close().catch(() => {});
    throw error;
  }
}
