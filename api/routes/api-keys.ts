import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import type { AppDeps, AppEnv } from '../context.js';
import { ApiError, errorSchema } from '../errors.js';
import { needs } from '../route-scopes.js';
import { ROLES, ROLE_SCOPES, SCOPES, roleOf, type Scope } from '../../access/scopes.js';
import { type ApiKeyRecord } from '../../access/keys.js';
import { NO_CONTROL_CHARS } from '../../sql/control-chars.js';
import { KeyChangeError, createKey, revokeKey } from '../../access/key-changes.js';
import { actorOf } from './audit.js';

const keyRecord = z
  .object({
    id: z.string(),
    name: z.string(),
    scopes: z.array(z.enum(SCOPES)),
    role: z
      .enum(ROLES as [string, ...string[]])
      .nullable()
      .openapi({ description: 'The role these scopes amount to (admin, standard), or null' }),
    createdAt: z.string(),
    revokedAt: z.string().nullable(),
  })
  .openapi('ApiKey');

const newKey = z
  .strictObject({
    name: z.string().min(1).max(100).regex(NO_CONTROL_CHARS),
    scopes: z.array(z.enum(SCOPES)).min(1).max(SCOPES.length).optional().openapi({ description: 'What the key may do; `admin` is everything, keys included' }),
    role: z
      .enum(ROLES as [string, ...string[]])
      .optional()
      .openapi({ description: `Shorthand: admin = [admin], standard = [${ROLE_SCOPES.standard.join(', ')}]; the default when neither is given is standard` }),
  })
  .refine((b) => b.scopes === undefined || b.role === undefined, { path: ['role'], message: 'give scopes or role, not both' });

const createKeyRoute = createRoute({
  method: 'post',
  path: '/v1/api-keys',
  summary: "Create an API key for the caller's tenant with the scopes it needs (admin); the secret is shown once",
  security: needs('admin'),
  request: { body: { required: true, content: { 'application/json': { schema: newKey } } } },
  responses: {
    201: { description: 'Created', content: { 'application/json': { schema: keyRecord.extend({ key: z.string() }) } } },
  },
});

const listKeysRoute = createRoute({
  method: 'get',
  path: '/v1/api-keys',
  summary: "List the tenant's API keys (admin); secrets are never returned",
  security: needs('admin'),
  responses: {
    200: { description: 'Keys', content: { 'application/json': { schema: z.object({ data: z.array(keyRecord) }) } } },
  },
});

const revokeKeyRoute = createRoute({
  method: 'delete',
  path: '/v1/api-keys/{id}',
  summary: 'Revoke an API key of the tenant (admin)',
  security: needs('admin'),
  request: { params: z.object({ id: z.string().min(1).max(100) }) },
  responses: {
    200: { description: 'Revoked', content: { 'application/json': { schema: keyRecord } } },
    404: { description: 'No such key in this tenant', content: { 'application/json': { schema: errorSchema } } },
    409: { description: 'Would revoke the last active admin key', content: { 'application/json': { schema: errorSchema } } },
  },
});

const view = (k: ApiKeyRecord) => ({ id: k.keyId, name: k.name, scopes: k.scopes, role: roleOf(k.scopes), createdAt: k.createdAt, revokedAt: k.revokedAt });

export function apiKeyRoutes({ access: { keys }, audit }: AppDeps) {
  const app = new OpenAPIHono<AppEnv>();

  app.openapi(createKeyRoute, async (c) => {
    const body = c.req.valid('json');
    const scopes: readonly Scope[] = body.scopes ?? ROLE_SCOPES[(body.role ?? 'standard') as keyof typeof ROLE_SCOPES];
    const { record, secret } = await createKey(keys, audit, actorOf(c), body.name, scopes);
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
