import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import type { AppDeps, AppEnv } from '../context.js';
import { ApiError, errorSchema } from '../errors.js';
import { requireRole } from '../auth.js';
import { API_KEY_ROLES } from '../../sql/queries/tenancy.js';
import { NO_CONTROL_CHARS } from '../../sql/control-chars.js';
import { notAdmin } from '../openapi-errors.js';

const keyRecord = z
  .object({
    id: z.string(),
    name: z.string(),
    role: z.enum(API_KEY_ROLES),
    createdAt: z.string(),
    revokedAt: z.string().nullable(),
  })
  .openapi('ApiKey');

const createKeyRoute = createRoute({
  method: 'post',
  path: '/v1/api-keys',
  summary: 'Create an API key for the caller\'s tenant (admin); the secret is shown once',
  security: [{ bearer: [] }],
  request: {
    body: {
      required: true,
      content: {
        'application/json': {
          schema: z.strictObject({ name: z.string().min(1).max(100).regex(NO_CONTROL_CHARS), role: z.enum(API_KEY_ROLES).default('standard') }),
        },
      },
    },
  },
  responses: {
    201: { description: 'Created', content: { 'application/json': { schema: keyRecord.extend({ key: z.string() }) } } },
    403: notAdmin,
  },
});

const listKeysRoute = createRoute({
  method: 'get',
  path: '/v1/api-keys',
  summary: 'List the tenant\'s API keys (admin); secrets are never returned',
  security: [{ bearer: [] }],
  responses: {
    200: { description: 'Keys', content: { 'application/json': { schema: z.object({ data: z.array(keyRecord) }) } } },
    403: notAdmin,
  },
});

const revokeKeyRoute = createRoute({
  method: 'delete',
  path: '/v1/api-keys/{id}',
  summary: 'Revoke an API key of the tenant (admin)',
  security: [{ bearer: [] }],
  request: { params: z.object({ id: z.string().min(1).max(100) }) },
  responses: {
    200: { description: 'Revoked', content: { 'application/json': { schema: keyRecord } } },
    403: notAdmin,
    404: { description: 'No such key in this tenant', content: { 'application/json': { schema: errorSchema } } },
    409: { description: 'Would revoke the last active admin key', content: { 'application/json': { schema: errorSchema } } },
  },
});

const view = (k: { keyId: string; name: string; role: (typeof API_KEY_ROLES)[number]; createdAt: string; revokedAt: string | null }) => ({
  id: k.keyId,
  name: k.name,
  role: k.role,
  createdAt: k.createdAt,
  revokedAt: k.revokedAt,
});

export function apiKeyRoutes({ keys }: AppDeps) {
  const app = new OpenAPIHono<AppEnv>();
  app.use('/v1/api-keys', requireRole('admin'));
  app.use('/v1/api-keys/*', requireRole('admin'));

  app.openapi(createKeyRoute, async (c) => {
    const { name, role } = c.req.valid('json');
    const { record, secret } = await keys.create(c.get('principal').tenantId, name, role);
    return c.json({ ...view(record), key: secret }, 201);
  });

  app.openapi(listKeysRoute, async (c) => c.json({ data: (await keys.list(c.get('principal').tenantId)).map(view) }, 200));

  app.openapi(revokeKeyRoute, async (c) => {
    const { id } = c.req.valid('param');
    const { tenantId } = c.get('principal');
    const all = await keys.list(tenantId);
    const target = all.find((k) => k.keyId === id);
    if (!target) throw new ApiError(404, 'not_found', `no API key ${id} in this tenant`);
    const activeAdmins = all.filter((k) => k.role === 'admin' && k.revokedAt === null);
    if (target.role === 'admin' && target.revokedAt === null && activeAdmins.length === 1) {
      throw new ApiError(409, 'last_admin_key', 'this is the tenant\'s last active admin key; create another admin key first');
    }
    const revoked = await keys.revoke(target);
    if (!revoked) throw new ApiError(404, 'not_found', `no API key ${id} in this tenant`);
    return c.json(view(revoked), 200);
  });
  return app;
}
