import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import type { AppDeps, AppEnv } from '../context.js';
import { ApiError, errorSchema } from '../errors.js';
import { needs } from '../route-scopes.js';
import { jsonOf, limitParam } from '../params.js';
import { linkScope } from '../../access/scopes.js';
import type { LinkRecord } from '../../access/links.js';
import { actorOf } from './audit.js';
import { answerSql, runResponses, schemaAnswer, schemaBody, sqlRequest } from './sql.js';

/** A console link is short-lived: it stands for an analyst's key in a browser tab, so it ends with the session, not days later. */
export const MAX_CONSOLE_LINK_SECONDS = 3600;
const DEFAULT_CONSOLE_LINK_SECONDS = 900;
const CONSOLE = needs(linkScope('sql-console'));

const consoleLink = z.object({ id: z.string(), createdAt: z.string(), expiresAt: z.string(), revokedAt: z.string().nullable() }).openapi('SqlConsoleLink');

const routes = {
  issue: createRoute({
    method: 'post',
    path: '/v1/sql/console-links',
    summary: 'Mint a short-lived SQL console link (sql): the token is shown once, in `token` and in the fragment of `url`; the key never goes into the page',
    security: needs('sql'),
    request: {
      body: {
        required: true,
        content: jsonOf(z.strictObject({ expiresInSeconds: z.number().int().min(60).max(MAX_CONSOLE_LINK_SECONDS).default(DEFAULT_CONSOLE_LINK_SECONDS) })),
      },
    },
    responses: { 201: { description: 'Minted', content: jsonOf(consoleLink.extend({ token: z.string(), url: z.string() }).openapi('IssuedSqlConsoleLink')) } },
  }),
  list: createRoute({
    method: 'get',
    path: '/v1/sql/console-links',
    summary: 'Live SQL console links (not revoked, not expired), newest first; never the token itself',
    security: needs('sql'),
    request: { query: z.object({ limit: limitParam(100, 1000) }) },
    responses: { 200: { description: 'Live links', content: jsonOf(z.object({ data: z.array(consoleLink) })) } },
  }),
  revoke: createRoute({
    method: 'delete',
    path: '/v1/sql/console-links/{id}',
    summary: 'Revoke a SQL console link: refused on its next use here, and by every instance within API_KEY_CACHE_SECONDS',
    security: needs('sql'),
    request: { params: z.object({ id: z.string().min(1).max(64) }) },
    responses: {
      200: { description: 'Revoked (or already revoked)', content: jsonOf(consoleLink) },
      404: { description: 'No such console link in this tenant', content: jsonOf(errorSchema) },
    },
  }),
  run: createRoute({
    method: 'post',
    path: '/v1/sql/console/query',
    summary: "The SQL console's run (console link only): as POST /v1/sql, recorded in the history with the link and the key that minted it",
    security: CONSOLE,
    request: { body: { content: jsonOf(sqlRequest), required: true } },
    responses: runResponses,
  }),
  schema: createRoute({
    method: 'get',
    path: '/v1/sql/console/schema',
    summary: "The SQL console's schema (console link only): as GET /v1/sql/schema",
    security: CONSOLE,
    responses: { 200: { description: 'The schema', content: jsonOf(schemaAnswer) } },
  }),
};

const view = ({ id, createdAt, expiresAt, revokedAt }: LinkRecord) => ({ id, createdAt, expiresAt, revokedAt });

/** The SQL console (docs/sql.md "SQL console"): its links, minted by a key with scope sql, and the two routes such a link reaches. */
export function sqlConsoleRoutes({ sql, config, links, audit, db, logger }: AppDeps) {
  const app = new OpenAPIHono<AppEnv>();

  app.openapi(routes.issue, async (c) => {
    const { tenantId, keyId } = c.get('principal');
    const { expiresInSeconds } = c.req.valid('json');
    const { record, token } = await links.issue({ tenantId, kind: 'sql-console', customerId: '', meters: null, expiresInSeconds, createdBy: keyId });
    await audit.record(actorOf(c), 'sql_console_link.issued', { target: record.id, after: view(record) });
    // In the fragment, as a dashboard link: never sent to the server's access log nor in a Referer.
    const origin = config.PUBLIC_URL ? new URL(config.PUBLIC_URL).origin : new URL(c.req.url).origin;
    return c.json({ ...view(record), token, url: `${origin}/dashboards/sql/#token=${token}` }, 201);
  });

  app.openapi(routes.list, async (c) => {
    const { tenantId } = c.get('principal');
    return c.json({ data: (await links.list(c.get('reader'), { tenantId, kind: 'sql-console', limit: c.req.valid('query').limit })).map(view) }, 200);
  });

  app.openapi(routes.revoke, async (c) => {
    const { tenantId } = c.get('principal');
    const id = c.req.valid('param').id;
    const current = await links.get(db, tenantId, id);
    if (!current || current.kind !== 'sql-console') throw new ApiError(404, 'not_found', `no SQL console link "${id}" in this tenant`);
    const revoked = (await links.revoke(tenantId, id))!;
    if (current.revokedAt === null) await audit.record(actorOf(c), 'sql_console_link.revoked', { target: id, before: view(current), after: view(revoked) });
    return c.json(view(revoked), 200);
  });

  app.openapi(routes.run, async (c) => {
    const link = c.get('link');
    // A link minted before tokens carried their key is refused: history must name the key behind every query.
    if (!link.createdBy) throw new ApiError(401, 'unauthorized', 'this link is not valid: ask for a new link');
    return answerSql(c, { sql, config, logger }, c.req.valid('json'), {
      tenantId: link.tenantId,
      keyId: link.createdBy,
      linkId: link.linkId,
      requestId: c.get('requestId'),
    });
  });

  app.openapi(routes.schema, (c) => c.json(schemaBody(), 200));
  return app;
}
