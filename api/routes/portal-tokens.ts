import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import type { AppDeps, AppEnv } from '../context.js';
import { ApiError, errorSchema } from '../errors.js';
import { needs } from '../route-scopes.js';
import { jsonOf, limitParam } from '../params.js';
import { listMeters } from '../../sql/queries/meters.js';
import { NO_CONTROL_CHARS } from '../../sql/control-chars.js';
import type { LinkRecord } from '../../access/links.js';
import { actorOf } from './audit.js';

/** A dashboard link lives at most 30 days: a customer with a standing dashboard gets new links from the platform. */
export const MAX_LINK_SECONDS = 30 * 86_400;
const DEFAULT_LINK_SECONDS = 3600;

const customerId = z.string().min(1).max(256).regex(NO_CONTROL_CHARS, 'must not contain control characters');

const issueInput = z.strictObject({
  customerId,
  meters: z
    .array(z.string().min(1).max(64))
    .min(1)
    .max(16)
    .optional()
    .openapi({ description: 'Meter keys the link may show; omitted: every meter of the tenant' }),
  expiresInSeconds: z.number().int().min(60).max(MAX_LINK_SECONDS).default(DEFAULT_LINK_SECONDS),
});

const linkSchema = z
  .object({
    id: z.string(),
    customerId: z.string(),
    meters: z.array(z.string()).nullable().openapi({ description: 'null: every meter of the tenant' }),
    createdAt: z.string(),
    expiresAt: z.string(),
    revokedAt: z.string().nullable(),
  })
  .openapi('PortalLink');

const routes = {
  issue: createRoute({
    method: 'post',
    path: '/v1/portal/tokens',
    summary: 'Issue a signed, expiring dashboard link for one customer (portal:issue); the token is shown once, in `token` and in the fragment of `url`',
    security: needs('portal:issue'),
    request: { body: { required: true, content: jsonOf(issueInput) } },
    responses: {
      201: { description: 'Issued', content: jsonOf(linkSchema.extend({ token: z.string(), url: z.string() }).openapi('IssuedPortalLink')) },
      400: { description: 'Invalid request, or a meter the tenant does not have', content: jsonOf(errorSchema) },
    },
  }),
  list: createRoute({
    method: 'get',
    path: '/v1/portal/tokens',
    summary: 'Live dashboard links (not revoked, not expired), newest first; never the token itself',
    security: needs('portal:issue'),
    request: { query: z.object({ customerId: customerId.optional(), limit: limitParam(100, 1000) }) },
    responses: { 200: { description: 'Live links', content: jsonOf(z.object({ data: z.array(linkSchema) })) } },
  }),
  revoke: createRoute({
    method: 'delete',
    path: '/v1/portal/tokens/{id}',
    summary: 'Revoke a dashboard link: refused on its next use here, and by every instance within API_KEY_CACHE_SECONDS',
    security: needs('portal:issue'),
    request: { params: z.object({ id: z.string().min(1).max(64) }) },
    responses: {
      200: { description: 'Revoked (or already revoked)', content: jsonOf(linkSchema) },
      404: { description: 'No such link in this tenant', content: jsonOf(errorSchema) },
    },
  }),
};

const view = ({ kind: _, ...link }: LinkRecord) => link;

export function portalTokenRoutes({ db, config, links, audit }: AppDeps) {
  const app = new OpenAPIHono<AppEnv>();

  app.openapi(routes.issue, async (c) => {
    const { tenantId, keyId } = c.get('principal');
    const input = c.req.valid('json');
    const meters = input.meters ? [...new Set(input.meters)] : null;
    if (meters) {
      const known = new Set((await listMeters(db, tenantId)).map((m) => m.key));
      const unknown = meters.filter((m) => !known.has(m));
      if (unknown.length > 0) throw new ApiError(400, 'invalid_request', `no meter ${unknown.map((m) => `"${m}"`).join(', ')} in this tenant`, { unknown });
    }
    const { record, token } = await links.issue({
      tenantId,
      kind: 'portal',
      customerId: input.customerId,
      meters,
      expiresInSeconds: input.expiresInSeconds,
      createdBy: keyId,
    });
    await audit.record(actorOf(c), 'portal_link.issued', { target: record.id, after: view(record) });
    // The token rides in the fragment: browsers send neither it to the server (access logs) nor in a Referer.
    const origin = config.PUBLIC_URL ? new URL(config.PUBLIC_URL).origin : new URL(c.req.url).origin;
    return c.json({ ...view(record), token, url: `${origin}/dashboards/portal/#token=${token}` }, 201);
  });

  app.openapi(routes.list, async (c) => {
    const { tenantId } = c.get('principal');
    const q = c.req.valid('query');
    return c.json({ data: (await links.list(c.get('reader'), { tenantId, kind: 'portal', customerId: q.customerId, limit: q.limit })).map(view) }, 200);
  });

  app.openapi(routes.revoke, async (c) => {
    const { tenantId } = c.get('principal');
    const id = c.req.valid('param').id;
    const current = await links.get(db, tenantId, id);
    if (!current || current.kind !== 'portal') throw new ApiError(404, 'not_found', `no dashboard link "${id}" in this tenant`);
    const revoked = (await links.revoke(tenantId, id))!;
    if (current.revokedAt === null) await audit.record(actorOf(c), 'portal_link.revoked', { target: id, before: view(current), after: view(revoked) });
    return c.json(view(revoked), 200);
  });
  return app;
}
