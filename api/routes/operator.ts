import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import type { AppDeps, AppEnv } from '../context.js';
import { ApiError, errorSchema } from '../errors.js';
import { jsonOf } from '../params.js';
import { needs } from '../route-scopes.js';
import { LIMIT_RANGES, limitValue, type TenantLimits } from '../../access/limits.js';
import { TenantExistsError, tenantIdSchema, tenantNameSchema, type Tenant } from '../../access/tenants.js';
import { createKey } from '../../access/key-changes.js';

const LIMIT_NAMES = Object.keys(LIMIT_RANGES) as (keyof TenantLimits)[];
const limitsOf = (value: (name: keyof TenantLimits) => z.ZodType) =>
  z.object(Object.fromEntries(LIMIT_NAMES.map((n) => [n, value(n)])) as Record<keyof TenantLimits, z.ZodType>);

const limitsSchema = limitsOf(() => z.number().int()).openapi('TenantLimits', {
  description:
    "ingestEventsPerSecond and concurrentReads are enforced by the API (429 past them); the read bounds are the engine limits of this tenant's reads",
});
const tenantSchema = z
  .object({
    tenantId: z.string(),
    name: z.string(),
    createdAt: z.string(),
    disabled: z.boolean(),
    limits: limitsOf(() => z.number().int().nullable()).openapi({ description: 'Overrides set by the operator; null: the configured default' }),
    effectiveLimits: limitsSchema,
  })
  .openapi('Tenant');

const tenantParam = z.object({ id: tenantIdSchema });
const notFound = { description: 'No such tenant', content: jsonOf(errorSchema) };

const routes = {
  create: createRoute({
    method: 'post',
    path: '/v1/operator/tenants',
    summary: 'Create a tenant and its first admin key (operator); the key is shown once',
    security: needs('operator'),
    request: { body: { required: true, content: jsonOf(z.strictObject({ tenantId: tenantIdSchema, name: tenantNameSchema })) } },
    responses: {
      201: { description: 'Created', content: jsonOf(z.object({ tenantId: z.string(), name: z.string(), adminKey: z.string() })) },
      409: { description: 'The tenant exists', content: jsonOf(errorSchema) },
    },
  }),
  list: createRoute({
    method: 'get',
    path: '/v1/operator/tenants',
    summary: 'Every tenant, its state and its effective limits (operator)',
    security: needs('operator'),
    responses: { 200: { description: 'Tenants', content: jsonOf(z.object({ data: z.array(tenantSchema) })) } },
  }),
  update: createRoute({
    method: 'patch',
    path: '/v1/operator/tenants/{id}',
    summary: 'Rename, disable or enable a tenant, or set its limits (operator); a limit set to null goes back to the default',
    description:
      'A disabled tenant gets 403 tenant_disabled on every route; its data is kept. The change holds at once in this process and within API_KEY_CACHE_SECONDS in others.',
    security: needs('operator'),
    request: {
      params: tenantParam,
      body: {
        required: true,
        content: jsonOf(
          z.strictObject({
            name: tenantNameSchema.optional(),
            disabled: z.boolean().optional(),
            limits: z
              .strictObject(
                Object.fromEntries(LIMIT_NAMES.map((n) => [n, limitValue(n).nullable().optional()])) as Record<
                  keyof TenantLimits,
                  z.ZodOptional<z.ZodNullable<z.ZodNumber>>
                >,
              )
              .optional(),
          }),
        ),
      },
    },
    responses: { 200: { description: 'The tenant as it is now', content: jsonOf(tenantSchema) }, 404: notFound },
  }),
};

const view = (t: Tenant) => ({
  tenantId: t.tenantId,
  name: t.name,
  createdAt: t.createdAt,
  disabled: t.disabled,
  limits: t.limits,
  effectiveLimits: t.effectiveLimits,
});

/** /v1/operator/...: tenants and their limits. The operator credential reaches only these (api/auth.ts). */
export function operatorRoutes({ access, audit }: AppDeps) {
  // The operator's changes land in the changed tenant's audit chain, with actor `operator`.
  const as = (tenantId: string, requestId: string) => ({ tenantId, actor: 'operator', requestId });
  const app = new OpenAPIHono<AppEnv>();

  app.openapi(routes.create, async (c) => {
    const { tenantId, name } = c.req.valid('json');
    try {
      await access.tenants.create(tenantId, name);
    } catch (error) {
      if (error instanceof TenantExistsError) throw new ApiError(409, 'tenant_exists', `tenant "${tenantId}" exists`);
      throw error;
    }
    await audit.record(as(tenantId, c.get('requestId')), 'tenant.created', { target: tenantId, after: { tenantId, name } });
    const { secret } = await createKey(access.keys, audit, as(tenantId, c.get('requestId')), 'first admin', ['admin']);
    return c.json({ tenantId, name, adminKey: secret }, 201);
  });

  app.openapi(routes.list, async (c) => c.json({ data: (await access.tenants.list()).map(view) }, 200));

  app.openapi(routes.update, async (c) => {
    const { id } = c.req.valid('param');
    const before = await access.tenants.get(id);
    const tenant = await access.tenants.update(id, c.req.valid('json'));
    if (!tenant || !before) throw new ApiError(404, 'not_found', `no tenant "${id}"`);
    await audit.record(as(id, c.get('requestId')), 'tenant.updated', {
      target: id,
      before: { name: before.name, disabled: before.disabled, limits: before.limits },
      after: { name: tenant.name, disabled: tenant.disabled, limits: tenant.limits },
    });
    return c.json(view(tenant), 200);
  });
  return app;
}
