import { serve } from '@hono/node-server';
import { ConfigError, loadConfig } from './config.js';
import { createLogger } from './logger.js';
import { startRuntime, type Runtime } from './runtime.js';

// The only place that reads process.env.
let config;
try {
  config = loadConfig(process.env);
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  process.stderr.write(`meterhouse: ${error.message}\n`);
  process.exit(2);
}

const logger = createLogger(config.LOG_LEVEL);
const mode = config.CLICKHOUSE_URL ? 'server' : 'embedded';

let runtime: Runtime;
try {
  runtime = await startRuntime(config, logger);
} catch (error) {
  const message = error instanceof Error ? error.message : String(error);
  logger.fatal({ mode, dataDir: mode === 'embedded' ? config.DATA_DIR : undefined }, `cannot start: ${message}`);
  process.stderr.write(`meterhouse: cannot start: ${message}\n`);
  process.exit(1);
}

if (runtime.createdAdminKey) {
  // Printed once, on first start, straight to the terminal: never through the logger.
  process.stdout.write(
    `\nmeterhouse: created tenant "default" with admin API key\n\n    ${runtime.createdAdminKey}\n\n` +
      `Store it now: it is not shown again. (Set METERHOUSE_API_KEY to choose the key yourself.)\n\n`,
  );
}

if (runtime.createdOperatorKey) {
  process.stdout.write(
    `\nmeterhouse: created the operator key (tenants and limits: /v1/operator/...)\n\n    ${runtime.createdOperatorKey}\n\n` +
      `Store it now: it is not shown again. (Set METERHOUSE_OPERATOR_KEY to choose it yourself.)\n\n`,
  );
}

runtime.startJobs();
const { app } = runtime;
const server = serve({ fetch: app.fetch, port: config.PORT, hostname: config.HOST }, (info) => {
  logger.info({ port: info.port, host: config.HOST, mode }, 'listening');
});

let stopping = false;
async function shutdown(signal: string) {
  if (stopping) return;
  stopping = true;
  logger.info({ signal }, 'shutting down: flushing buffered events');
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  try {
    // New connections are refused from here; requests already in flight get their answers once the flush commits.
    await runtime.deps.writer.close();
    // Keep-alive connections go idle once their last answer is written; close them as they do (5 s at most).
    const sweep = setInterval(() => 'closeIdleConnections' in server && server.closeIdleConnections(), 50);
    await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, 5000).unref())]);
    clearInterval(sweep);
    await runtime.close();
  } catch (error) {
    logger.error({ err: error instanceof Error ? error.message : String(error) }, 'error while closing');
    process.exitCode = 1;
  }
  logger.info('stopped');
  process.exit();
}
process.on('SIGINT', () => void shutdown('SIGINT'));
process.on('SIGTERM', () => void shutdown('SIGTERM'));
