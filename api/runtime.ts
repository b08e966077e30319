import { connect, type Connection, type ConnectOptions } from '../sql/connect.js';
import { migrate } from '../sql/migrations.js';
import { DirectWriter } from '../ingest/writer.js';
import type { Config } from './config.js';
import type { AppDeps } from './context.js';
import { KeyStore } from './keys.js';
import type { Logger } from './logger.js';
import { createApp } from './app.js';

export interface Runtime {
  app: ReturnType<typeof createApp>;
  deps: AppDeps;
  connection: Connection;
  /** Set on the first start of a data directory without METERHOUSE_API_KEY: shown once, never stored. */
  createdAdminKey?: string | undefined;
  /** Flush buffered events, then close the engine. */
  close(): Promise<void>;
}

export function connectOptions(config: Config): ConnectOptions {
  const database = config.CLICKHOUSE_DATABASE;
  if (config.CLICKHOUSE_URL) {
    return {
      mode: 'server',
      database,
      url: config.CLICKHOUSE_URL,
      username: config.CLICKHOUSE_USER,
      password: config.CLICKHOUSE_PASSWORD,
      requestTimeoutMs: config.CLICKHOUSE_REQUEST_TIMEOUT_MS,
    };
  }
  return {
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
    const keys = new KeyStore(db, config.API_KEY_CACHE_SECONDS);
    const { createdSecret } = await keys.bootstrap(config.METERHOUSE_API_KEY);
    const writer = new DirectWriter(
      db,
      { batchRows: config.WRITER_BATCH_ROWS, flushIntervalMs: config.WRITER_FLUSH_INTERVAL_MS, maxQueuedEvents: config.WRITER_MAX_QUEUED_EVENTS },
      (error, events) => logger.error({ events, err: error instanceof Error ? error.message : String(error) }, 'ingest batch failed; nothing of it was acknowledged'),
    );
    const deps: AppDeps = { db, writer, keys, config, logger };
    return {
      app: createApp(deps),
      deps,
      connection,
      createdAdminKey: createdSecret,
      async close() {
        await writer.close();
        await connection.close();
      },
    };
  } catch (error) {
    await connection.close().catch(() => {});
    throw error;
  }
}
