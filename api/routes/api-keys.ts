import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import type { AppDeps, AppEnv } from '../context.js';
import { ApiError, errorSchema } from '../errors.js';
import { requireRole } from '../auth.js';
import { API_KEY_ROLES } from '../../sql/queries/tenancy.js';
import { NO_CONTROL_CHARS } from '../../sql/control-chars.js';
import { notAdmin } from '../openapi-errors.js';
import { KeyChangeError, createKey, revokeKey } from '../../access/key-changes.js';
import { actorOf } from './audit.js';

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

export function apiKeyRoutes({ keys, audit }: AppDeps) {
  const app = new OpenAPIHono<AppEnv>();
  app.use('/v1/api-keys', requireRole('admin'));
  app.use('/v1/api-keys/*', requireRole('admin'));

  app.openapi(createKeyRoute, async (c) => {
    const { name, role } = c.req.valid('json');
    const { record, secret } = await createKey(keys, audit, actorOf(c), name, role);
    return c.json({ ...view(record), key: secret }, 201);
  });

  app.openapi(listKeysRoute, async (c) => c.json({ data: (await keys.list(c.get('principal').tenantId)).map(view) }, 200));

  app.openapi(revokeKeyRoute, async (c) => {
    try {
      return c.json(view(await revokeKey(keys, audit, actorOf(c), c.req.valid('param').id)), 200);
    } catch (error) {
      if (error instanceof KeyChangeError) throw new ApiError(error.reason === 'not_found' ? 404 : 409, error.reason, error.message);
      throw error;
    }
  });
  return app;
}
