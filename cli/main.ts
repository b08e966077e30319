import { Command, Option } from 'commander';
import { ConfigError, loadConfig, type Config } from '../api/config.js';
import { connectOptions } from '../api/runtime-settings.js';
import { connect } from '../sql/connect.js';
import { MIGRATIONS, migrate, pendingMigrations } from '../sql/migrations.js';
import { StorageError } from '../sql/storage-error.js';
import { ROLES, ROLE_SCOPES, SCOPES, type Role, type Scope } from '../access/scopes.js';
import { CliError, Operations } from './operations.js';
import { printChecks, printKey, printStatus, printTable } from './print.js';
import { alertCommands } from './alerts.js';

/**
 * `meterhouse <command>`: what operators do on a box. Configuration comes
 * from the same environment variables as the server (api/config.ts), read
 * here as api/main.ts reads them. In embedded mode the engine allows one
 * process per DATA_DIR, so every command refuses while a server holds it.
 */
const program = new Command('meterhouse')
  .description('Operate a meterhouse installation (configured by the same environment variables as the server)')
  .option('--json', 'print JSON for scripts')
  .showHelpAfterError();

const json = () => program.opts<{ json?: boolean }>().json === true;
const out = (value: unknown, text: () => string) => process.stdout.write(json() ? `${JSON.stringify(value)}\n` : `${text()}\n`);

/** Open the engine, check the schema is current (except for `migrate`), run, close. */
async function withEngine<T>(
  run: (ops: Operations, db: Awaited<ReturnType<typeof connect>>['db'], config: Config) => Promise<T>,
  options: { migrating?: boolean } = {},
): Promise<T> {
  const config = loadConfig(process.env);
  const connection = await connect(connectOptions(config));
  try {
    if (!options.migrating) {
      // A data directory never migrated has no migrations table (or database) yet: everything is pending.
      const pending = await pendingMigrations(connection.db).catch((error: unknown) => {
        if (error instanceof StorageError && (error.clickhouseCode === '60' || error.clickhouseCode === '81')) return MIGRATIONS.map((m) => m.version);
        throw error;
      });
      if (pending.length > 0) throw new CliError(`the schema is not current (pending migrations ${pending.join(', ')}): run \`meterhouse migrate\` first`);
    }
    return await run(new Operations(connection.db, config), connection.db, config);
  } finally {
    await connection.close();
  }
}

const tenantOption = () => new Option('-t, --tenant <id>', 'tenant id').default('default');

const tenants = program.command('tenants').description('tenants');
tenants
  .command('list')
  .description('list tenants')
  .action(() =>
    withEngine(async (ops) => {
      const rows = await ops.tenants();
      out(rows, () => printTable(rows, ['tenantId', 'name', 'createdAt', 'disabled']));
    }),
  );
tenants
  .command('create <tenantId>')
  .description('create a tenant and its first admin key (shown once)')
  .option('-n, --name <name>', 'display name')
  .action((tenantId: string, o: { name?: string }) =>
    withEngine(async (ops) => {
      const created = await ops.createTenant(tenantId, o.name ?? tenantId);
      out(created, () => `created tenant "${created.tenantId}"\n${printKey(created.keyId, created.adminKey)}`);
    }),
  );

const keys = program.command('keys').description('API keys of a tenant');
keys
  .command('create')
  .description('create an API key (the secret is shown once)')
  .addOption(tenantOption())
  .requiredOption('-n, --name <name>', 'what the key is for')
  .addOption(new Option('-r, --role <role>', 'shorthand for a set of scopes').choices(ROLES).default('standard'))
  .addOption(new Option('-s, --scopes <scopes...>', 'the scopes it holds (instead of --role)').choices(SCOPES))
  .action((o: { tenant: string; name: string; role: Role; scopes?: Scope[] }) =>
    withEngine(async (ops) => {
      const key = await ops.createKey(o.tenant, o.name, o.scopes ?? ROLE_SCOPES[o.role]);
      out(key, () => printKey(key.keyId, key.key));
    }),
  );
keys
  .command('list')
  .description('list API keys (never secrets)')
  .addOption(tenantOption())
  .action((o: { tenant: string }) =>
    withEngine(async (ops) => {
      const rows = await ops.listKeys(o.tenant);
      out(rows, () =>
        printTable(
          rows.map((k) => ({ ...k, scopes: k.scopes.join(',') })),
          ['keyId', 'name', 'scopes', 'createdAt', 'revokedAt'],
        ),
      );
    }),
  );
keys
  .command('revoke <keyId>')
  .description('revoke an API key')
  .addOption(tenantOption())
  .action((keyId: string, o: { tenant: string }) =>
    withEngine(async (ops) => {
      const key = await ops.revokeKey(o.tenant, keyId);
      out(key, () => `revoked ${key.keyId} at ${key.revokedAt}`);
    }),
  );

program
  .command('admin-key')
  .description('admin keys')
  .command('recover')
  .description('issue a new admin key when all are lost (run with the server stopped; refused while it holds DATA_DIR)')
  .addOption(tenantOption())
  .action((o: { tenant: string }) =>
    withEngine(async (ops) => {
      const key = await ops.recoverAdminKey(o.tenant);
      out(key, () => `new admin key for tenant "${o.tenant}"\n${printKey(key.keyId, key.key)}`);
    }),
  );

program
  .command('migrate')
  .description('apply pending migrations')
  .action(() =>
    withEngine(
      async (_ops, db, config) => {
        const applied = await migrate(db, { cluster: config.CLICKHOUSE_CLUSTER });
        out({ applied }, () => (applied.length > 0 ? `applied migrations ${applied.join(', ')}` : 'schema is up to date'));
      },
      { migrating: true },
    ),
  );

program
  .command('close')
  .description('run the period close now (every tenant, or one)')
  .option('-t, --tenant <id>', 'only this tenant')
  .action((o: { tenant?: string }) =>
    withEngine(async (ops) => {
      const exports = await ops.close(o.tenant);
      out({ exports }, () => (exports.length === 0 ? 'nothing to export' : printTable(exports, ['tenantId', 'sequence', 'id', 'lineCount', 'checksum'])));
    }),
  );

program
  .command('reconcile')
  .description('run the rollup reconciliation now; --full compares every window again, in every tier')
  .option('--full', 'from the beginning: every hour with rows against raw events, every minute and day against its hours')
  .action((o: { full?: boolean }) =>
    withEngine(async (ops) => {
      const r = await ops.reconcile(o.full === true);
      out(r, () =>
        [
          `hours checked ${r.checked} (left for later ${r.deferred}), rewritten ${r.rewritten} (events counted differently ${r.eventsDifference})`,
          `rewritten from the hour tier: minute-tier hours ${r.minuteHoursRewritten}, days ${r.daysRewritten}`,
        ].join('\n'),
      );
    }),
  );

program
  .command('status')
  .description('tables, row counts, last export per tenant, reconciliation and rollup tiers being filled')
  .action(() =>
    withEngine(async (ops) => {
      const status = await ops.status();
      out(status, () => printStatus(status));
    }),
  );

program
  .command('audit')
  .description('the audit log')
  .command('verify')
  .description("recompute each tenant's audit chain and export ledger; exit code 1 names the first row that does not fit")
  .option('-t, --tenant <id>', 'only this tenant')
  .action((o: { tenant?: string }) =>
    withEngine(async (ops) => {
      const results = await ops.verify(o.tenant);
      out(results, () => printChecks(results));
      if (results.some((r) => !r.audit.ok || !r.exports.ok)) process.exitCode = 1;
    }),
  );

alertCommands(program, withEngine, out, tenantOption);

try {
  await program.parseAsync(process.argv);
} catch (error) {
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`meterhouse: ${message}\n`);
  process.exitCode = error instanceof ConfigError ? 2 : 1;
}
