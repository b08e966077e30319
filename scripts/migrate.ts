// `npm run migrate`: apply pending migrations and exit (the server also applies them at start).
import { ConfigError, loadConfig } from '../api/config.js';
import { connectOptions } from '../api/runtime-settings.js';
import { connect } from '../sql/connect.js';
import { migrate } from '../sql/migrations.js';

try {
  const config = loadConfig(process.env);
  const connection = await connect(connectOptions(config));
  try {
    const applied = await migrate(connection.db, { cluster: config.CLICKHOUSE_CLUSTER });
    process.stdout.write(applied.length > 0 ? `applied migrations ${applied.join(', ')}\n` : 'schema is up to date\n');
  } finally {
    await connection.close();
  }
} catch (error) {
  process.stderr.write(`meterhouse migrate: ${error instanceof ConfigError ? error.message : error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
}
