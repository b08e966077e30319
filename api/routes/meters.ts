import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import type { AppDeps, AppEnv } from '../context.js';
import { ApiError, errorSchema } from '../errors.js';
import { needs } from '../route-scopes.js';
import { definitionOf, deleteMeter, getMeter, listMeters, meterDefinition, saveMeter, type Meter } from '../../sql/queries/meters.js';
import { meterUsageRoute } from './meter-usage.js';
import { actorOf } from './audit.js';

const meterSchema = z
  .object({
    key: z.string(),
    name: z.string().optional(),
    metricName: z.string(),
    aggregation: z.string(),
    uniqueDimension: z.string().optional(),
    groupBy: z.array(z.string()),
    filter: z.record(z.string(), z.array(z.string())),
    billable: z.boolean(),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .openapi('Meter');

const keyParam = z.object({ key: z.string().min(1).max(64) });
const notFound = { description: 'No such meter in this tenant', content: { 'application/json': { schema: errorSchema } } };

const routes = {
  create: createRoute({
    method: 'post',
    path: '/v1/meters',
    summary: 'Define a meter (meters:write); it answers for events that arrived before it too',
    security: needs('meters:write'),
    request: { body: { required: true, content: { 'application/json': { schema: meterDefinition } } } },
    responses: {
      201: { description: 'Created', content: { 'application/json': { schema: meterSchema } } },
      409: { description: 'A meter with this key exists', content: { 'application/json': { schema: errorSchema } } },
    },
  }),
  list: createRoute({
    method: 'get',
    path: '/v1/meters',
    summary: 'List meters',
    security: needs('usage:read'),
    responses: { 200: { description: 'Meters', content: { 'application/json': { schema: z.object({ data: z.array(meterSchema) }) } } } },
  }),
  get: createRoute({
    method: 'get',
    path: '/v1/meters/{key}',
    summary: 'Get a meter',
    security: needs('usage:read'),
    request: { params: keyParam },
    responses: { 200: { description: 'The meter', content: { 'application/json': { schema: meterSchema } } }, 404: notFound },
  }),
  patch: createRoute({
    method: 'patch',
    path: '/v1/meters/{key}',
    summary: 'Change a meter (meters:write); the key cannot change',
    security: needs('meters:write'),
    request: { params: keyParam, body: { required: true, content: { 'application/json': { schema: z.record(z.string(), z.unknown()) } } } },
    responses: { 200: { description: 'The changed meter', content: { 'application/json': { schema: meterSchema } } }, 404: notFound },
  }),
  delete: createRoute({
    method: 'delete',
    path: '/v1/meters/{key}',
    summary: 'Delete a meter (meters:write); its events stay',
    security: needs('meters:write'),
    request: { params: keyParam },
    responses: { 204: { description: 'Deleted' }, 404: notFound },
  }),
};

function invalid(error: z.ZodError): ApiError {
  return new ApiError(
    400,
    'invalid_request',
    'the meter definition is invalid',
    error.issues.map((i) => ({ path: i.path.map(String).join('.'), message: i.message })),
  );
}

export function meterRoutes(deps: AppDeps) {
  const { db } = deps;
  const app = new OpenAPIHono<AppEnv>();
  const orNotFound = (key: string, meter: Meter | undefined): Meter => {
    if (!meter) throw new ApiError(404, 'not_found', `no meter "${key}" in this tenant`);
    return meter;
  };
  /** The stored definition, read now: what a change starts from. */
  const found = async (tenantId: string, key: string) => orNotFound(key, await getMeter(db, tenantId, key));
  /** For usage reads: cached, as of at most API_KEY_CACHE_SECONDS ago when another process changed it. */
  const cached = async (tenantId: string, key: string) => orNotFound(key, await deps.meters.get({ tenantId, key }));

  app.openapi(routes.create, async (c) => {
    const definition = c.req.valid('json');
    const { tenantId } = c.get('principal');
    if (await getMeter(db, tenantId, definition.key)) throw new ApiError(409, 'conflict', `meter "${definition.key}" exists; PATCH it instead`);
    const saved = await saveMeter(db, tenantId, definition);
    deps.meters.forget({ tenantId, key: saved.key });
    await deps.audit.record(actorOf(c), 'meter.created', { target: saved.key, after: saved });
    return c.json(saved, 201);
  });

  app.openapi(routes.list, async (c) => c.json({ data: await listMeters(c.get('reader'), c.get('principal').tenantId) }, 200));

  app.openapi(routes.get, async (c) => c.json(await found(c.get('principal').tenantId, c.req.valid('param').key), 200));

  app.openapi(routes.patch, async (c) => {
    const { tenantId } = c.get('principal');
    const current = await found(tenantId, c.req.valid('param').key);
    const changes = c.req.valid('json');
    if ('key' in changes && changes.key !== current.key) throw new ApiError(400, 'invalid_request', 'a meter key cannot change; create a new meter');
    const merged = meterDefinition.safeParse({ ...definitionOf(current), ...changes });
    if (!merged.success) throw invalid(merged.error);
    const saved = await saveMeter(db, tenantId, merged.data, current.createdAt);
    deps.meters.forget({ tenantId, key: saved.key });
    await deps.audit.record(actorOf(c), 'meter.updated', { target: saved.key, before: current, after: saved });
    return c.json(saved, 200);
  });

  app.openapi(routes.delete, async (c) => {
    const { tenantId } = c.get('principal');
    const current = await found(tenantId, c.req.valid('param').key);
    await deleteMeter(db, tenantId, current);
    deps.meters.forget({ tenantId, key: current.key });
    await deps.audit.record(actorOf(c), 'meter.deleted', { target: current.key, before: current });
    return c.body(null, 204);
  });

  meterUsageRoute(app, deps, cached);
  return app;
}
