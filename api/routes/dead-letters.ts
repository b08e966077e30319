import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import type { AppDeps, AppEnv } from '../context.js';
import { errorSchema } from '../errors.js';
import { needs } from '../route-scopes.js';
import { DEFAULT_TENANT } from '../../access/keys.js';
import { decodeCursor, encodeCursor, limitParam } from '../params.js';
import { deadLetterRow, listDeadLetters } from '../../sql/queries/dead-letters.js';
import { replayDeadLetters, replayResult, MAX_REPLAY } from '../dead-letter-replay.js';
import { actorOf } from './audit.js';

const deadLetter = deadLetterRow.openapi('DeadLetter');

const listRoute = createRoute({
  method: 'get',
  path: '/v1/dead-letters',
  summary: 'Kafka messages that failed validation, with their raw bytes and the error (admin)',
  description:
    'Each malformed message in the topic is one dead letter, in log order. Messages that name this tenant are listed for its admins; ' +
    'messages nobody can attribute (not JSON, no or unknown tenantId) are listed for the admins of the default tenant, the operator.',
  security: needs('admin'),
  request: {
    query: z.object({
      limit: limitParam(100, 1000),
      cursor: z.string().max(2048).optional(),
      status: z.enum(['pending', 'all']).default('all').openapi({ description: 'pending: not replayed yet' }),
    }),
  },
  responses: {
    200: {
      description: 'A page of dead letters',
      content: { 'application/json': { schema: z.object({ data: z.array(deadLetter), nextCursor: z.string().nullable() }) } },
    },
  },
});

const replayRoute = createRoute({
  method: 'post',
  path: '/v1/dead-letters/replay',
  summary: 'Re-submit dead letters, corrected or as they are (admin)',
  description:
    'Each item names a dead letter by (topic, partition, offset). With `event`, that corrected event is submitted instead of the raw message. ' +
    "The event goes through the same validation and ingest path as POST /v1/events, for the caller's tenant; a replayed dead letter is marked and not replayed twice.",
  security: needs('admin'),
  request: {
    body: {
      required: true,
      content: {
        'application/json': {
          schema: z.strictObject({
            deadLetters: z
              .array(
                z.strictObject({
                  topic: z.string().min(1).max(249),
                  partition: z.number().int().min(0),
                  offset: z.number().int().min(0),
                  event: z.record(z.string(), z.unknown()).optional(),
                }),
              )
              .min(1)
              .max(MAX_REPLAY),
          }),
        },
      },
    },
  },
  responses: {
    200: { description: 'One result per item', content: { 'application/json': { schema: z.object({ results: z.array(replayResult) }) } } },
    503: { description: 'Not durable: retry (Retry-After)', content: { 'application/json': { schema: errorSchema } } },
  },
});

/** The tenants whose dead letters a caller sees: its own, plus the unattributable ones for the operator's tenant. */
export function visibleTenants(tenantId: string): string[] {
  return tenantId === DEFAULT_TENANT ? [tenantId, ''] : [tenantId];
}

export function deadLetterRoutes(deps: AppDeps) {
  const app = new OpenAPIHono<AppEnv>();

  app.openapi(listRoute, async (c) => {
    const q = c.req.valid('query');
    const { tenantId } = c.get('principal');
    const after = decodeCursor(q.cursor, z.tuple([z.string(), z.number().int(), z.number().int()]));
    const rows = await listDeadLetters(
      c.get('reader'),
      {
        tenantIds: visibleTenants(tenantId),
        afterTopic: after?.[0] ?? '',
        afterPartition: after?.[1] ?? -1,
        afterOffset: after?.[2] ?? -1,
        pendingOnly: q.status === 'pending',
        limit: q.limit + 1,
      },
      { route: 'GET /v1/dead-letters', tenantId, requestId: c.get('requestId') },
    );
    const page = rows.slice(0, q.limit);
    const last = page.at(-1);
    const nextCursor = rows.length > q.limit && last ? encodeCursor([last.topic, last.partition, last.offset]) : null;
    return c.json({ data: page, nextCursor }, 200);
  });

  app.openapi(replayRoute, async (c) => {
    const { deadLetters } = c.req.valid('json');
    const { tenantId } = c.get('principal');
    const results = await replayDeadLetters(deps, { tenantId, visible: visibleTenants(tenantId), requestId: c.get('requestId') }, deadLetters);
    // Positions, event ids and outcomes only (errors can echo the payload); a request that replayed nothing changed nothing.
    if (results.some((r) => r.status === 'replayed'))
      await deps.audit.record(actorOf(c), 'dead_letter.replayed', { after: results.map((r) => ({ ...r, errors: undefined })) });
    return c.json({ results }, 200);
  });
  return app;
}
