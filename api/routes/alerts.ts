import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import type { AppDeps, AppEnv } from '../context.js';
import { ApiError, errorSchema } from '../errors.js';
import { needs } from '../route-scopes.js';
import { decodeCursor, encodeCursor, jsonOf, limitParam } from '../params.js';
import { actorOf } from './audit.js';
import { alertRules, listAlertEvents, ALERT_DIRECTIONS, ALERT_UNITS, ALERT_WINDOWS } from '../../sql/queries/alerts.js';
import { ruleInput, rulePatch } from '../../alerts/rules.js';
import { AlertRuleChanges, RuleChangeError, ruleView } from '../../alerts/rule-changes.js';
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
    deliveredAt: z.string().nullable().openapi({ description: "When the tenant's webhook acknowledged it; null while in the outbox" }),
  })
  .openapi('AlertEvent');

const idParam = z.object({ id: z.string().max(64) });
const notFound = { 404: { description: 'No such rule', content: jsonOf(errorSchema) } };

const routes = {
  create: createRoute({
    method: 'post',
    path: '/v1/alerts/rules',
    summary: 'Create a usage alert rule (admin)',
    security: needs('admin'),
    request: { body: { required: true, content: jsonOf(ruleInput) } },
    responses: { 201: { description: 'Created', content: jsonOf(ruleSchema) } },
  }),
  list: createRoute({
    method: 'get',
    path: '/v1/alerts/rules',
    summary: "The tenant's alert rules, by id",
    security: needs('usage:read'),
    request: { query: z.object({ limit: limitParam(100, 1000), cursor: z.string().max(2048).optional() }) },
    responses: { 200: { description: 'A page of rules', content: jsonOf(z.object({ data: z.array(ruleSchema), nextCursor: z.string().nullable() })) } },
  }),
  get: createRoute({
    method: 'get',
    path: '/v1/alerts/rules/{id}',
    summary: 'One alert rule',
    security: needs('usage:read'),
    request: { params: idParam },
    responses: { 200: { description: 'The rule', content: jsonOf(ruleSchema) }, ...notFound },
  }),
  patch: createRoute({
    method: 'patch',
    path: '/v1/alerts/rules/{id}',
    summary: "Change an alert rule's thresholds, window, step, direction or re-arming (admin)",
    security: needs('admin'),
    request: { params: idParam, body: { required: true, content: jsonOf(rulePatch) } },
    responses: { 200: { description: 'Changed', content: jsonOf(ruleSchema) }, ...notFound },
  }),
  delete: createRoute({
    method: 'delete',
    path: '/v1/alerts/rules/{id}',
    summary: 'Delete an alert rule (admin); its crossings stay listed',
    security: needs('admin'),
    request: { params: idParam },
    responses: { 204: { description: 'Deleted' }, ...notFound },
  }),
  events: createRoute({
    method: 'get',
    path: '/v1/alerts/events',
    summary: 'Crossings (the alert outbox), newest first',
    security: needs('usage:read'),
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
    method: 'post',
    path: '/v1/alerts/evaluate',
    summary: "Evaluate the tenant's rules now, as the every-minute sweep does (admin)",
    security: needs('admin'),
    responses: { 200: { description: 'Crossings written by this run', content: jsonOf(z.object({ crossings: z.number().int() })) } },
  }),
};

/** Refusals of the rule domain become the one error body. */
async function refusing<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    if (!(error instanceof RuleChangeError)) throw error;
    throw new ApiError(error.status, error.status === 400 ? 'invalid_request' : error.status === 404 ? 'not_found' : 'conflict', error.message, error.details);
  }
}

export function alertRoutes({ db, audit, alerts }: AppDeps) {
  const app = new OpenAPIHono<AppEnv>();
  const changes = new AlertRuleChanges(db, audit, () => alerts.rulesChanged());

  app.openapi(routes.create, async (c) => c.json(ruleView(await refusing(() => changes.create(actorOf(c), c.req.valid('json')))), 201));

  app.openapi(routes.list, async (c) => {
    const { tenantId } = c.get('principal');
    const q = c.req.valid('query');
    const after = decodeCursor(q.cursor, z.tuple([z.string()]));
    const rows = await alertRules(c.get('reader'), { tenantId, afterId: after?.[0] ?? '', limit: q.limit + 1 }, { tenantId });
    const page = rows.slice(0, q.limit);
    const last = page.at(-1);
    return c.json({ data: page.map(ruleView), nextCursor: rows.length > q.limit && last ? encodeCursor([last.id]) : null }, 200);
  });

  app.openapi(routes.get, async (c) =>
    c.json(ruleView(await refusing(() => changes.get(c.get('principal').tenantId, c.req.valid('param').id, c.get('reader')))), 200),
  );

  app.openapi(routes.patch, async (c) => c.json(ruleView(await refusing(() => changes.update(actorOf(c), c.req.valid('param').id, c.req.valid('json')))), 200));

  app.openapi(routes.delete, async (c) => {
    await refusing(() => changes.delete(actorOf(c), c.req.valid('param').id));
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
