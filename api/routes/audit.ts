import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import type { AppDeps, AppEnv } from '../context.js';
import { assertWindow, decodeCursor, encodeCursor, instantMs, instantParam, jsonOf, limitParam } from '../params.js';
import { needs } from '../route-scopes.js';
import { ANY_TIME, auditPage, type AuditRow } from '../../sql/queries/audit.js';
import type { Actor } from '../../access/audit.js';

/** Who a request acts as, for the audit log: the key id (never the secret), its tenant, the request id. */
export function actorOf(c: { get(k: 'principal'): { tenantId: string; keyId: string }; get(k: 'requestId'): string }): Actor {
  const { tenantId, keyId } = c.get('principal');
  return { tenantId, actor: keyId, requestId: c.get('requestId') };
}

const auditEntry = z
  .object({
    id: z.string(),
    sequence: z.number().int(),
    at: z.string(),
    actor: z.string().openapi({ description: 'The key id that made the change, `cli`, or `operator`' }),
    kind: z.string().openapi({ example: 'api_key.created' }),
    requestId: z.string(),
    target: z.string(),
    before: z.unknown().nullable(),
    after: z.unknown().nullable(),
    previousHash: z.string().openapi({ description: "SHA-256 of the tenant's previous row; empty for the first" }),
    hash: z.string(),
  })
  .openapi('AuditEntry');

const chainBreak = z.object({ id: z.string(), sequence: z.number().int(), reason: z.string() });
export const verifySchema = z
  .object({
    ok: z.boolean(),
    rows: z.number().int(),
    head: z.object({ sequence: z.number().int(), hash: z.string() }).nullable(),
    firstBad: chainBreak.optional(),
  })
  .openapi('AuditVerification');

const routes = {
  list: createRoute({
    method: 'get',
    path: '/v1/audit',
    summary: "The tenant's audit log in chain order (admin); filter by kind and a half-open time window [from, to)",
    security: needs('admin'),
    request: {
      query: z.object({
        kind: z.string().max(64).optional(),
        from: instantParam('from').optional(),
        to: instantParam('to').optional(),
        cursor: z.string().max(2048).optional(),
        limit: limitParam(100, 1000),
      }),
    },
    responses: { 200: { description: 'A page of audit rows', content: jsonOf(z.object({ data: z.array(auditEntry), nextCursor: z.string().nullable() })) } },
  }),
  verify: createRoute({
    method: 'get',
    path: '/v1/audit/verify',
    summary: "Recompute the tenant's audit chain (admin); names the first row that does not fit",
    security: needs('admin'),
    responses: { 200: { description: 'The result (ok: false with firstBad when the chain is broken)', content: jsonOf(verifySchema) } },
  }),
};

const parsed = (text: string): unknown => (text === '' ? null : JSON.parse(text));
const view = (r: AuditRow) => ({
  id: r.id,
  sequence: r.sequence,
  at: new Date(r.atMs).toISOString(),
  actor: r.actor,
  kind: r.kind,
  requestId: r.requestId,
  target: r.target,
  before: parsed(r.before),
  after: parsed(r.after),
  previousHash: r.previousHash,
  hash: r.hash,
});

export function auditRoutes({ audit }: AppDeps) {
  const app = new OpenAPIHono<AppEnv>();

  app.openapi(routes.list, async (c) => {
    const { tenantId } = c.get('principal');
    const q = c.req.valid('query');
    const [afterSequence, afterId] = decodeCursor(q.cursor, z.tuple([z.number().int().min(0), z.string()])) ?? [0, ''];
    const fromMs = instantMs(q.from) ?? ANY_TIME.fromMs;
    const toMs = instantMs(q.to) ?? ANY_TIME.toMs;
    assertWindow(fromMs, toMs);
    const rows = await auditPage(
      c.get('reader'),
      { tenantId, afterSequence, afterId, kind: q.kind ?? '', fromMs, toMs, limit: q.limit + 1 },
      { tenantId, requestId: c.get('requestId') },
    );
    const page = rows.slice(0, q.limit);
    const last = page.at(-1);
    return c.json({ data: page.map(view), nextCursor: rows.length > q.limit && last ? encodeCursor([last.sequence, last.id]) : null }, 200);
  });

  app.openapi(routes.verify, async (c) => c.json(await audit.verify(c.get('principal').tenantId, c.get('reader')), 200));
  return app;
}
