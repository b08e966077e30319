import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import type { AppDeps, AppEnv } from '../context.js';
import { jsonOf } from '../params.js';
import { needs } from '../route-scopes.js';
import { tenantWebhook, writeTenantWebhook } from '../../sql/queries/webhooks.js';
import { actorOf } from './audit.js';
import { DEFAULT_TENANT } from '../../access/keys.js';

const webhookView = z
  .object({
    url: z.string().nullable(),
    updatedAt: z.string().nullable(),
    source: z.enum(['tenant', 'default', 'none']).openapi({ description: '`default`: BILLING_WEBHOOK_URL (tenant default only)' }),
  })
  .openapi('Webhook');

const routes = {
  put: createRoute({
    method: 'put',
    path: '/v1/webhooks',
    summary: "Set the tenant's export webhook: URL and HMAC secret (admin); the secret is never shown again",
    security: needs('admin'),
    request: {
      body: {
        required: true,
        content: jsonOf(
          z.strictObject({
            url: z.url({ protocol: /^https?$/ }).max(2048),
            secret: z
              .string()
              .min(16)
              .max(512)
              .regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces'),
          }),
        ),
      },
    },
    responses: { 200: { description: 'Set', content: jsonOf(webhookView) } },
  }),
  get: createRoute({
    method: 'get',
    path: '/v1/webhooks',
    summary: "The tenant's export webhook (admin); never the secret",
    security: needs('admin'),
    responses: { 200: { description: 'The webhook', content: jsonOf(webhookView) } },
  }),
  delete: createRoute({
    method: 'delete',
    path: '/v1/webhooks',
    summary: "Remove the tenant's export webhook (admin); exports wait in the outbox until one is set",
    security: needs('admin'),
    responses: { 204: { description: 'Removed' } },
  }),
};

export function webhookRoutes({ db, audit, config }: AppDeps) {
  const app = new OpenAPIHono<AppEnv>();
  const current = async (tenantId: string): Promise<z.infer<typeof webhookView>> => {
    const [own] = await tenantWebhook(db, { tenantId }, { tenantId });
    if (own) return { url: own.url, updatedAt: own.updatedAt, source: 'tenant' };
    if (tenantId === DEFAULT_TENANT && config.BILLING_WEBHOOK_URL) return { url: config.BILLING_WEBHOOK_URL, updatedAt: null, source: 'default' };
    return { url: null, updatedAt: null, source: 'none' };
  };

  app.openapi(routes.put, async (c) => {
    const { tenantId } = c.get('principal');
    const { url, secret } = c.req.valid('json');
    const before = await current(tenantId);
    await writeTenantWebhook(db, tenantId, { url, secret }, { tenantId });
    const after = await current(tenantId);
    // The secret is never recorded: only that it was set with this URL.
    await audit.record(actorOf(c), 'webhook.set', { target: 'webhook', before: { url: before.url }, after: { url: after.url, secretChanged: true } });
    return c.json(after, 200);
  });

  app.openapi(routes.get, async (c) => c.json(await current(c.get('principal').tenantId), 200));

  app.openapi(routes.delete, async (c) => {
    const { tenantId } = c.get('principal');
    const before = await current(tenantId);
    await writeTenantWebhook(db, tenantId, null, { tenantId });
    await audit.record(actorOf(c), 'webhook.deleted', { target: 'webhook', before: { url: before.url } });
    return c.body(null, 204);
  });
  return app;
}
