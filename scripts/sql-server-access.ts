import { createHash } from 'node:crypto';
import { parseArgs } from 'node:util';
import { loadConfig, defaultTenantLimits } from '../api/config.js';
import { renderServerAccess } from '../analyst/server-access.js';

/**
 * Print the DDL of a readonly ClickHouse user for one tenant (server mode;
 * docs/sql.md): run it on the server as an admin, then point the BI tool at it.
 *
 *   npm run -s sql:server-access -- --tenant acme --user acme_bi --password-stdin < secret.txt
 *
 * Limits are the configured SQL_* defaults (the same environment as the server).
 */
const { values } = parseArgs({ options: { tenant: { type: 'string' }, user: { type: 'string' }, 'password-stdin': { type: 'boolean' } } });
if (!values.tenant || !values.user || !values['password-stdin']) throw new Error('usage: sql-server-access --tenant <id> --user <name> --password-stdin');
let password = '';
for await (const chunk of process.stdin) password += String(chunk);
password = password.replace(/\r?\n$/, '');
if (password.length < 16) throw new Error('the password must be at least 16 characters');
const config = loadConfig(process.env);
const statements = renderServerAccess({
  database: config.CLICKHOUSE_DATABASE,
  cluster: config.CLICKHOUSE_CLUSTER,
  tenantId: values.tenant,
  user: values.user,
  passwordSha256Hex: createHash('sha256').update(password).digest('hex'),
  limits: defaultTenantLimits(config),
});
console.log(statements.map((s) => `${s};`).join('\n\n'));
