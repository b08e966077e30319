import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import type { AppDeps, AppEnv } from '../context.js';
import { ApiError, errorSchema } from '../errors.js';
import { needs } from '../route-scopes.js';
import { jsonOf } from '../params.js';
import { EVENT_LIMITS, usageEventSchema } from '../../ingest/schema.js';
import { isNegativeDecimal, parseDecimal } from '../../ingest/decimal.js';
import { CorrectionError, type Correction } from '../../ingest/corrections.js';
import { canonicalDimensions } from '../../ingest/normalise.js';
import { eventHistory, type StoredVersion } from '../../sql/queries/corrections.js';
import { actorOf } from './audit.js';

const versionSchema = z
  .object({
    eventId: z.string(),
    version: z.string().openapi({ description: '1 for the original; corrections carry higher versions (a microsecond clock)' }),
    change: z.enum(['original', 'amend', 'void']),
    customerId: z.string(),
    metricName: z.string(),
    timestamp: z.string(),
    quantity: z.string(),
    dimensions: z.record(z.string(), z.string()),
    storedAt: z.string(),
    changedBy: z.string().nullable().openapi({ description: 'The API key id that made the correction' }),
  })
  .openapi('EventVersion');

const amendBody = z
  .strictObject({
    quantity: z.union([z.number(), z.string().max(64)]).optional(),
    dimensions: usageEventSchema.shape.dimensions,
  })
  .refine((b) => b.quantity !== undefined || b.dimensions !== undefined, 'send quantity, dimensions or both');

const idParam = z.object({ eventId: z.string().min(1).max(EVENT_LIMITS.idLength) });
const failures = {
  404: { description: 'No such event in this tenant', content: jsonOf(errorSchema) },
  409: { description: 'The event is voided', content: jsonOf(errorSchema) },
};

const routes = {
  void: createRoute({
    method: 'post',
    path: '/v1/events/{eventId}/void',
    summary: 'Void an event (billing:write): a new version that takes it out of every number and of later exports (as an adjustment)',
    security: needs('billing:write'),
    request: { params: idParam },
    responses: { 200: { description: 'The new version', content: jsonOf(versionSchema) }, ...failures },
  }),
  amend: createRoute({
    method: 'post',
    path: '/v1/events/{eventId}/amend',
    summary:
      "Amend an event's quantity and/or dimensions (billing:write; dimensions replace the whole map); moving it in time or to another customer is a void plus a new event",
    security: needs('billing:write'),
    request: { params: idParam, body: { required: true, content: jsonOf(amendBody) } },
    responses: { 200: { description: 'The new version', content: jsonOf(versionSchema) }, ...failures },
  }),
  history: createRoute({
    method: 'get',
    path: '/v1/events/{eventId}/history',
    summary: 'Every version of an event, oldest first (audit)',
    security: needs('usage:read'),
    request: { params: idParam },
    responses: { 200: { description: 'Versions', content: jsonOf(z.object({ data: z.array(versionSchema) })) }, 404: failures[404] },
  }),
};

function view(v: StoredVersion) {
  return {
    eventId: v.eventId,
    version: v.version,
    change: v.version === '1' ? ('original' as const) : v.isDeleted === 1 ? ('void' as const) : ('amend' as const),
    customerId: v.customerId,
    metricName: v.metricName,
    timestamp: v.timestamp,
    quantity: v.quantity,
    dimensions: v.dimensions,
    storedAt: v.storedAt,
    changedBy: v.changedBy === '' ? null : v.changedBy,
  };
}

function quantityOf(input: number | string | undefined): string | undefined {
  if (input === undefined) return undefined;
  const q = parseDecimal(input);
  const message = !q.ok ? q.message : isNegativeDecimal(q.value) ? 'must not be negative' : undefined;
  if (message || !q.ok) throw new ApiError(400, 'invalid_request', 'the amendment is invalid', [{ path: 'quantity', message }]);
  return q.value;
}

export function correctionRoutes({ corrector, audit }: AppDeps) {
  const app = new OpenAPIHono<AppEnv>();

  const apply = async (c: { get(k: 'principal'): { tenantId: string; keyId: string }; get(k: 'requestId'): string }, eventId: string, change: Correction) => {
    const { tenantId, keyId } = c.get('principal');
    try {
      const applied = view(await corrector.apply(tenantId, eventId, change, keyId, { tenantId, requestId: c.get('requestId') }));
      // Ids and versions only: the audit log holds no event payloads.
      await audit.record(actorOf(c), change.void ? 'correction.voided' : 'correction.amended', {
        target: eventId,
        after: { eventId, version: applied.version },
      });
      return applied;
    } catch (error) {
      if (error instanceof CorrectionError)
        throw new ApiError(error.reason === 'not_found' ? 404 : 409, error.reason === 'not_found' ? 'not_found' : 'conflict', error.message);
      throw error;
    }
  };

  app.openapi(routes.void, async (c) => c.json(await apply(c, c.req.valid('param').eventId, { void: true }), 200));

  app.openapi(routes.amend, async (c) => {
    const body = c.req.valid('json');
    // The same canonical order as ingest's, so an amended event's dimensions are the same rollup key.
    const dimensions = body.dimensions && canonicalDimensions(body.dimensions);
    return c.json(await apply(c, c.req.valid('param').eventId, { quantity: quantityOf(body.quantity), dimensions }), 200);
  });

  app.openapi(routes.history, async (c) => {
    const { tenantId } = c.get('principal');
    const { eventId } = c.req.valid('param');
    const versions = await eventHistory(c.get('reader'), { tenantId, eventId }, { tenantId, requestId: c.get('requestId') });
    if (versions.length === 0) throw new ApiError(404, 'not_found', `no event "${eventId}" in this tenant`);
    return c.json({ data: versions.map(view) }, 200);
  });
  return app;
}
