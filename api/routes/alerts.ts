import { randomBytes } from 'node:crypto';
import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import type { AppDeps, AppEnv } from '../context.js';
import { ApiError, errorSchema } from '../errors.js';
import { needs } from '../route-scopes.js';
import { decodeCursor, encodeCursor, jsonOf, limitParam } from '../params.js';
import { actorOf } from './audit.js';
import { getMeter } from '../../sql/queries/meters.js';
import { alertRuleById, alertRules, listAlertEvents, writeAlertRule, ALERT_DIRECTIONS, ALERT_UNITS, ALERT_WINDOWS, type AlertRule } from '../../sql/queries/alerts.js';
import { MAX_RULES_PER_TENANT, ruleInput, rulePatch, validRule } from '../../alerts/rules.js';
import { alertEventView } from '../../alerts/view.js';
import { NO_CONTROL_CHARS } from '../../sql/control-chars.js';

const ruleSchema = z
  .object({
    id: z.string(),
    meterKey: z.string(),
    customerId: z.string().nullable().openapi({ description: 'null: every customer of the tenant' }),
    thresholds: z.array(z.string()),
    unit: z.enum(ALERT_UNITS),
    window: z.enum(ALERT_WINDOWS),
    every: z.string().nullable(),
    direction: z.enum(ALERT_DIRECTIONS),
    rearm: z.boolean(),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .openapi('AlertRule');

const eventSchema = z
  .object({
    id: z.string().openapi({ description: 'Deterministic: the same crossing has the same id on every instance and in every webhook attempt' }),
    ruleId: z.string(),
    customerId: z.string(),
    meterKey: z.string(),
    threshold: z.string().openapi({ description: 'As the rule states it (a percentage for percent rules)' }),
    thresholdValue: z.string().openapi({ description: 'The absolute threshold' }),
    direction: z.enum(ALERT_DIRECTIONS),
    value: z.string().openapi({ description: 'The exact meter value that crossed it' }),
    periodStart: z.string().nullable().openapi({ description: 'null for a lifetime rule' }),
    crossedAt: z.string(),
    deliveredAt: z.string().nullable().openapi({ description: 'When the tenant\'s webhook acknowledged it; null while in the outbox' }),
  })
  .openapi('AlertEvent');

const idParam = z.object({ id: z.string().max(64) });
const notFound = { 404: { description: 'No such rule', content: jsonOf(errorSchema) } };

const routes = {
  create: createRoute({
    method: 'post', path: '/v1/alerts/rules', summary: 'Create a usage alert rule (admin)', security: needs('admin'),
    request: { body: { required: true, content: jsonOf(ruleInput) } },
    responses: { 201: { description: 'Created', content: jsonOf(ruleSchema) } },
  }),
  list: createRoute({
    method: 'get', path: '/v1/alerts/rules', summary: 'The tenant\'s alert rules, by id', security: needs('usage:read'),
    request: { query: z.object({ limit: limitParam(100, 1000), cursor: z.string().max(2048).optional() }) },
    responses: { 200: { description: 'A page of rules', content: jsonOf(z.object({ data: z.array(ruleSchema), nextCursor: z.string().nullable() })) } },
  }),
  get: createRoute({
    method: 'get', path: '/v1/alerts/rules/{id}', summary: 'One alert rule', security: needs('usage:read'),
    request: { params: idParam },
    responses: { 200: { description: 'The rule', content: jsonOf(ruleSchema) }, ...notFound },
  }),
  patch: createRoute({
    method: 'patch', path: '/v1/alerts/rules/{id}', summary: 'Change an alert rule\'s thresholds, window, step, direction or re-arming (admin)', security: needs('admin'),
    request: { params: idParam, body: { required: true, content: jsonOf(rulePatch) } },
    responses: { 200: { description: 'Changed', content: jsonOf(ruleSchema) }, ...notFound },
  }),
  delete: createRoute({
    method: 'delete', path: '/v1/alerts/rules/{id}', summary: 'Delete an alert rule (admin); its crossings stay listed', security: needs('admin'),
    request: { params: idParam },
    responses: { 204: { description: 'Deleted' }, ...notFound },
  }),
  events: createRoute({
    method: 'get', path: '/v1/alerts/events', summary: 'Crossings (the alert outbox), newest first', security: needs('usage:read'),
    request: {
      query: z.object({
        customerId: z.string().min(1).max(256).regex(NO_CONTROL_CHARS, 'must not contain control characters').optional(),
        ruleId: z.string().min(1).max(64).optional(),
        limit: limitParam(100, 1000),
      }),
    },
    responses: { 200: { description: 'Crossings', content: jsonOf(z.object({ data: z.array(eventSchema) })) } },
  }),
  evaluate: createRoute({
    method: 'post', path: '/v1/alerts/evaluate', summary: 'Evaluate the tenant\'s rules now, as the every-minute sweep does (admin)', security: needs('admin'),
    responses: { 200: { description: 'Crossings written by this run', content: jsonOf(z.object({ crossings: z.number().int() })) } },
  }),
};

const view = (r: AlertRule) => ({ ...r, customerId: r.customerId || null, every: r.every || null });

export function alertRoutes({ db, audit, alerts }: AppDeps) {
  const app = new OpenAPIHono<AppEnv>();
  const load = async (tenantId: string, id: string, reader = db) => {
    const [rule] = await alertRuleById(reader, { tenantId, id }, { tenantId });
    if (!rule) throw new ApiError(404, 'not_found', `no alert rule "${id}"`);
    return rule;
  };

  app.openapi(routes.create, async (c) => {
    const { tenantId } = c.get('principal');
    const input = c.req.valid('json');
    if (!(await getMeter(db, tenantId, input.meterKey))) throw new ApiError(400, 'invalid_request', `no meter "${input.meterKey}"`, [{ path: 'meterKey', message: 'is not a meter of this tenant' }]);
    if ((await alertRules(db, { tenantId, limit: MAX_RULES_PER_TENANT }, { tenantId })).length >= MAX_RULES_PER_TENANT) {
      throw new ApiError(409, 'conflict', `a tenant may hold at most ${MAX_RULES_PER_TENANT} alert rules`);
    }
    const now = new Date().toISOString();
    const rule: AlertRule = {
      id: `alr_${randomBytes(12).toString('hex')}`, meterKey: input.meterKey, customerId: input.customerId ?? '', thresholds: input.thresholds, unit: input.unit,
      every: input.every ?? '', window: input.window, direction: input.direction, rearm: input.rearm, createdAt: now, updatedAt: now,
    };
    await writeAlertRule(db, tenantId, rule, false, { tenantId });
    alerts.rulesChanged();
    await audit.record(actorOf(c), 'alert_rule.created', { target: rule.id, after: view(rule) });
    return c.json(view(rule), 201);
  });

  app.openapi(routes.list, async (c) => {
    const { tenantId } = c.get('principal');
    const q = c.req.valid('query');
    const after = decodeCursor(q.cursor, z.tuple([z.string()]));
    const rows = await alertRules(c.get('reader'), { tenantId, afterId: after?.[0] ?? '', limit: q.limit + 1 }, { tenantId });
    const page = rows.slice(0, q.limit);
    const last = page.at(-1);
    return c.json({ data: page.map(view), nextCursor: rows.length > q.limit && last ? encodeCursor([last.id]) : null }, 200);
  });

  app.openapi(routes.get, async (c) => c.json(view(await load(c.get('principal').tenantId, c.req.valid('param').id, c.get('reader'))), 200));

  app.openapi(routes.patch, async (c) => {
    const { tenantId } = c.get('principal');
    const before = await load(tenantId, c.req.valid('param').id);
    const p = c.req.valid('json');
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
    if (invalid) throw new ApiError(400, 'invalid_request', `the rule after this change is invalid: ${invalid}`);
    await writeAlertRule(db, tenantId, after, false, { tenantId });
    alerts.rulesChanged();
    await audit.record(actorOf(c), 'alert_rule.updated', { target: before.id, before: view(before), after: view(after) });
    return c.json(view(after), 200);
  });

  app.openapi(routes.delete, async (c) => {
    const { tenantId } = c.get('principal');
    const before = await load(tenantId, c.req.valid('param').id);
    await writeAlertRule(db, tenantId, { ...before, updatedAt: new Date().toISOString() }, true, { tenantId });
    alerts.rulesChanged();
    await audit.record(actorOf(c), 'alert_rule.deleted', { target: before.id, before: view(before) });
    return c.body(null, 204);
  });

  app.openapi(routes.events, async (c) => {
    const { tenantId } = c.get('principal');
    const q = c.req.valid('query');
    const rows = await listAlertEvents(c.get('reader'), { tenantId, customerId: q.customerId ?? '', ruleId: q.ruleId ?? '', limit: q.limit }, { tenantId });
    return c.json({ data: rows.map(alertEventView) as z.infer<typeof eventSchema>[] }, 200);
  });

  app.openapi(routes.evaluate, async (c) => {
    const work = await alerts.sweep(c.get('principal').tenantId);
    return c.json({ crossings: Number(work?.crossings ?? 0) }, 200);
  });
  return app;
}
