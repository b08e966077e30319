import { randomBytes } from 'node:crypto';
import type { z } from '@hono/zod-openapi';
import type { Db } from '../sql/query.js';
import type { Actor, AuditLog } from '../access/audit.js';
import { getMeter } from '../sql/queries/meters.js';
import { alertRuleById, alertRules, writeAlertRule, type AlertRule } from '../sql/queries/alerts.js';
import { MAX_RULES_PER_TENANT, validRule, type ruleInput, type rulePatch } from './rules.js';

/** A change refused, with the HTTP status the API answers (the CLI prints the message). */
export class RuleChangeError extends Error {
  override readonly name = 'RuleChangeError';
  constructor(
    readonly status: 400 | 404 | 409,
    message: string,
    readonly details?: { path: string; message: string }[],
  ) {
    super(message);
  }
}

/** A rule as the API and CLI show it: '' (every customer, no step) shows as null. */
export const ruleView = (r: AlertRule) => ({ ...r, customerId: r.customerId || null, every: r.every || null });

/**
 * Creating, changing and deleting rules, each audit-logged: the one path the
 * API (api/routes/alerts.ts) and the CLI take. `changed` tells the evaluator.
 */
export class AlertRuleChanges {
  constructor(
    private readonly db: Db,
    private readonly audit: AuditLog,
    private readonly changed: () => void = () => {},
  ) {}

  async get(tenantId: string, id: string, reader: Db = this.db): Promise<AlertRule> {
    const [rule] = await alertRuleById(reader, { tenantId, id }, { tenantId });
    if (!rule) throw new RuleChangeError(404, `no alert rule "${id}"`);
    return rule;
  }

  async create(who: Actor, input: z.output<typeof ruleInput>): Promise<AlertRule> {
    const { tenantId } = who;
    if (!(await getMeter(this.db, tenantId, input.meterKey))) {
      throw new RuleChangeError(400, `no meter "${input.meterKey}"`, [{ path: 'meterKey', message: 'is not a meter of this tenant' }]);
    }
    if ((await alertRules(this.db, { tenantId, limit: MAX_RULES_PER_TENANT }, { tenantId })).length >= MAX_RULES_PER_TENANT) {
      throw new RuleChangeError(409, `a tenant may hold at most ${MAX_RULES_PER_TENANT} alert rules`);
    }
    const now = new Date().toISOString();
    const rule: AlertRule = {
      id: `alr_${randomBytes(12).toString('hex')}`,
      meterKey: input.meterKey,
      customerId: input.customerId ?? '',
      thresholds: input.thresholds,
      unit: input.unit,
      every: input.every ?? '',
      window: input.window,
      direction: input.direction,
      rearm: input.rearm,
      createdAt: now,
      updatedAt: now,
    };
    await writeAlertRule(this.db, tenantId, rule, false, { tenantId });
    this.changed();
    await this.audit.record(who, 'alert_rule.created', { target: rule.id, after: ruleView(rule) });
    return rule;
  }

  async update(who: Actor, id: string, p: z.output<typeof rulePatch>): Promise<AlertRule> {
    const before = await this.get(who.tenantId, id);
    const after: AlertRule = {
      ...before,
      ...(p.thresholds && { thresholds: p.thresholds }),
      ...(p.unit && { unit: p.unit }),
      ...(p.window && { window: p.window }),
      ...(p.direction && { direction: p.direction }),
      ...(p.rearm !== undefined && { rearm: p.rearm }),
      ...(p.every !== undefined && { every: p.every ?? '' }),
      updatedAt: new Date().toISOString(),
    };
    const invalid = validRule(after);
    if (invalid) throw new RuleChangeError(400, `the rule after this change is invalid: ${invalid}`);
    await writeAlertRule(this.db, who.tenantId, after, false, { tenantId: who.tenantId });
    this.changed();
    await this.audit.record(who, 'alert_rule.updated', { target: id, before: ruleView(before), after: ruleView(after) });
    return after;
  }

  async delete(who: Actor, id: string): Promise<void> {
    const before = await this.get(who.tenantId, id);
    await writeAlertRule(this.db, who.tenantId, { ...before, updatedAt: new Date().toISOString() }, true, { tenantId: who.tenantId });
    this.changed();
    await this.audit.record(who, 'alert_rule.deleted', { target: id, before: ruleView(before) });
  }
}
