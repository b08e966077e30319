import { randomUUID } from 'node:crypto';
import { Option, type Command } from 'commander';
import type { Db } from '../sql/query.js';
import { AuditLog } from '../access/audit.js';
import { alertRules, listAlertEvents } from '../sql/queries/alerts.js';
import { ruleInput } from '../alerts/rules.js';
import { AlertRuleChanges, RuleChangeError, ruleView } from '../alerts/rule-changes.js';
import { alertEventView } from '../alerts/view.js';
import { CliError } from './operations.js';
import { printTable } from './print.js';

type WithEngine = <T>(run: (ops: unknown, db: Db) => Promise<T>) => Promise<T>;
type Out = (value: unknown, text: () => string) => void;

/** Rule changes go through the API's own domain path (alerts/rule-changes.ts), audit-logged with actor `cli`. */
async function changing<T>(
  db: Db,
  tenantId: string,
  run: (changes: AlertRuleChanges, who: { tenantId: string; actor: string; requestId: string }) => Promise<T>,
): Promise<T> {
  try {
    return await run(new AlertRuleChanges(db, new AuditLog(db)), { tenantId, actor: 'cli', requestId: `cli-${randomUUID()}` });
  } catch (error) {
    throw error instanceof RuleChangeError
      ? new CliError(error.message + (error.details ? `: ${error.details.map((d) => `${d.path} ${d.message}`).join('; ')}` : ''))
      : error;
  }
}

const ruleColumns = ['id', 'meterKey', 'customerId', 'thresholds', 'unit', 'every', 'window', 'direction', 'rearm'];
const row = (r: ReturnType<typeof ruleView>) => ({ ...r, thresholds: r.thresholds.join(','), customerId: r.customerId ?? '*', every: r.every ?? '' });

/** `meterhouse alerts rules list|create|delete` and `meterhouse alerts events`. */
export function alertCommands(program: Command, withEngine: WithEngine, out: Out, tenantOption: () => Option): void {
  const alerts = program.command('alerts').description('usage alerts');
  const rules = alerts.command('rules').description('alert rules of a tenant');
  rules
    .command('list')
    .description('list alert rules')
    .addOption(tenantOption())
    .action((o: { tenant: string }) =>
      withEngine(async (_ops, db) => {
        const list = (await alertRules(db, { tenantId: o.tenant, limit: 1000 }, { tenantId: o.tenant })).map(ruleView);
        out(list, () => printTable(list.map(row), ruleColumns));
      }),
    );
  rules
    .command('create')
    .description('create an alert rule on a meter (audit-logged)')
    .addOption(tenantOption())
    .requiredOption('-m, --meter <key>', 'meter key')
    .option('-c, --customer <id>', 'one customer (default: every customer)')
    .option('--thresholds <values...>', 'one-time thresholds, canonical decimals')
    .option('--every <step>', 'a recurring step')
    .addOption(new Option('--unit <unit>', "absolute values or percent of the customer's allowance").choices(['absolute', 'percent']).default('absolute'))
    .addOption(new Option('--window <window>', 'billing period to date, or all time').choices(['period', 'lifetime']).default('period'))
    .addOption(new Option('--direction <direction>', 'rising, or falling (corrections)').choices(['rising', 'falling']).default('rising'))
    .option('--rearm', 'fire again after the value left the threshold and came back')
    .action(
      (o: {
        tenant: string;
        meter: string;
        customer?: string;
        thresholds?: string[];
        every?: string;
        unit: string;
        window: string;
        direction: string;
        rearm?: boolean;
      }) =>
        withEngine(async (_ops, db) => {
          const parsed = ruleInput.safeParse({
            meterKey: o.meter,
            customerId: o.customer,
            thresholds: o.thresholds,
            every: o.every,
            unit: o.unit,
            window: o.window,
            direction: o.direction,
            rearm: o.rearm === true,
          });
          if (!parsed.success) throw new CliError(parsed.error.issues.map((i) => `${i.path.join('.')} ${i.message}`).join('; '));
          const rule = ruleView(await changing(db, o.tenant, (changes, who) => changes.create(who, parsed.data)));
          out(rule, () => `created alert rule ${rule.id}\n${printTable([row(rule)], ruleColumns)}`);
        }),
    );
  rules
    .command('delete <id>')
    .description('delete an alert rule (audit-logged)')
    .addOption(tenantOption())
    .action((id: string, o: { tenant: string }) =>
      withEngine(async (_ops, db) => {
        await changing(db, o.tenant, (changes, who) => changes.delete(who, id));
        out({ deleted: id }, () => `deleted alert rule ${id}`);
      }),
    );
  alerts
    .command('events')
    .description('crossings, newest first')
    .addOption(tenantOption())
    .option('-c, --customer <id>', 'only this customer')
    .option('-r, --rule <id>', 'only this rule')
    .action((o: { tenant: string; customer?: string; rule?: string }) =>
      withEngine(async (_ops, db) => {
        const list = (
          await listAlertEvents(db, { tenantId: o.tenant, customerId: o.customer ?? '', ruleId: o.rule ?? '', limit: 1000 }, { tenantId: o.tenant })
        ).map(alertEventView);
        out(list, () => printTable(list, ['id', 'ruleId', 'customerId', 'meterKey', 'threshold', 'value', 'periodStart', 'crossedAt', 'deliveredAt']));
      }),
    );
}
