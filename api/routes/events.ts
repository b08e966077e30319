import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { AppDeps, AppEnv } from '../context.js';
import { needs } from '../route-scopes.js';
import { ApiError, errorSchema } from '../errors.js';
import { ingestBudget } from '../byte-budget.js';
import { usageEventSchema } from '../../ingest/schema.js';
import { cloudEventSchema } from '../../ingest/cloudevents.js';
import { binaryCloudEvent } from '../../ingest/cloudevents-binary.js';
import { eventsInBody, normaliseEvent, type BodyShape, type EventRow } from '../../ingest/normalise.js';
import { parseJsonBody } from '../../ingest/json-body.js';
import { listEvents, storedEventRow } from '../../sql/queries/events.js';
import { eventTimeBounds } from '../config.js';
import { assertRetained, assertWindow, decodeCursor, encodeCursor, instantMs, instantParam, limitParam } from '../params.js';

const SHAPES: Record<string, BodyShape> = {
  'application/json': 'usage',
  'application/cloudevents+json': 'cloudevent',
  'application/cloudevents-batch+json': 'cloudevents-batch',
};

const eventResult = z
  .object({
    index: z.number().int(),
    eventId: z.string().nullable(),
    status: z.enum(['accepted', 'duplicate', 'rejected']),
    errors: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
  })
  .openapi('EventResult');

const ingestResponse = z
  .object({
    results: z.array(eventResult),
    accepted: z.number().int(),
    duplicates: z.number().int(),
    rejected: z.number().int(),
  })
  .openapi('IngestResponse');

const ingestRoute = createRoute({
  method: 'post',
  path: '/v1/events',
  summary: 'Send usage events (one, an array, { events: [...] }, or CloudEvents)',
  security: needs('events:write'),
  request: {
    body: {
      required: true,
      content: {
        'application/json': { schema: z.union([usageEventSchema, z.array(usageEventSchema), z.object({ events: z.array(usageEventSchema) })]) },
        'application/cloudevents+json': { schema: cloudEventSchema },
        'application/cloudevents-batch+json': { schema: z.array(cloudEventSchema) },
      },
    },
  },
  responses: {
    200: { description: 'Every event accepted or a duplicate; all are durable', content: { 'application/json': { schema: ingestResponse } } },
    207: { description: 'Some events rejected; the others are durable', content: { 'application/json': { schema: ingestResponse } } },
    422: { description: 'Every event rejected', content: { 'application/json': { schema: ingestResponse } } },
    400: { description: 'Malformed JSON (duplicate keys included), invalid UTF-8, or body shape', content: { 'application/json': { schema: errorSchema } } },
    413: { description: 'Too many events or too large a body', content: { 'application/json': { schema: errorSchema } } },
    429: {
      description: 'The tenant is over its events-per-second limit: nothing of this request was stored; retry after Retry-After seconds',
      content: { 'application/json': { schema: errorSchema } },
    },
    503: {
      description: 'Not durable, or too many bodies in flight (ingest_busy): retry (Retry-After)',
      content: { 'application/json': { schema: errorSchema } },
    },
  },
});

export const eventsQuery = z.object({
  customerId: z.string().min(1).max(256).optional(),
  metricName: z.string().min(1).max(128).optional(),
  from: instantParam('from').optional(),
  to: instantParam('to').optional(),
  limit: limitParam(100, 1000),
  cursor: z.string().max(2048).optional(),
});

const listRoute = createRoute({
  method: 'get',
  path: '/v1/events',
  summary: 'List stored events (deduplicated), oldest first, cursor-paginated',
  security: needs('usage:read'),
  request: {
    query: eventsQuery,
  },
  responses: {
    200: {
      description: 'A page of events',
      content: { 'application/json': { schema: z.object({ data: z.array(storedEventRow), nextCursor: z.string().nullable() }) } },
    },
    400: { description: 'Invalid parameters', content: { 'application/json': { schema: errorSchema } } },
  },
});

/** The per-event error of a row the engine refused although it passed validation: permanent, so the client must not retry it unchanged. */
const STORAGE_REFUSED = {
  path: '',
  message: 'the storage engine cannot store this event as sent; it was not stored (retrying it unchanged fails the same way)',
};

function bodyShapeOf(contentType: string | undefined): BodyShape {
  const mediaType = (contentType ?? 'application/json').split(';')[0]!.trim().toLowerCase();
  const shape = SHAPES[mediaType];
  if (!shape) throw new ApiError(415, 'unsupported_media_type', `Content-Type must be one of ${Object.keys(SHAPES).join(', ')}`);
  return shape;
}

export function eventRoutes(deps: AppDeps) {
  const { writer, config, metrics, clock, access } = deps;
  const app = new OpenAPIHono<AppEnv>();
  app.openAPIRegistry.registerPath(ingestRoute);

  app.post(
    '/v1/events',
    ingestBudget(deps.ingestBudget, config.MAX_BODY_BYTES),
    bodyLimit({
      maxSize: config.MAX_BODY_BYTES,
      onError: () => {
        throw new ApiError(413, 'payload_too_large', `the body exceeds ${config.MAX_BODY_BYTES} bytes (MAX_BODY_BYTES)`);
      },
    }),
    async (c) => {
      const receivedAtMs = clock.now();
      // CloudEvents binary mode: attributes in ce-* headers, the body is the event's data (ingest/cloudevents-binary.ts).
      const binary = binaryCloudEvent(c.req.raw.headers);
      if (binary?.mediaTypeError) throw new ApiError(415, 'unsupported_media_type', binary.mediaTypeError);
      const shape = binary ? 'cloudevent' : bodyShapeOf(c.req.header('content-type'));
      const bytes = new Uint8Array(await c.req.arrayBuffer());
      let value: unknown;
      // An event without data is valid in binary mode (quantity defaults to 1).
      if (!(binary && bytes.length === 0)) {
        const body = parseJsonBody(bytes);
        if (!body.ok) throw new ApiError(400, body.code, body.message);
        value = body.value;
      }
      if (binary) value = binary.withData(value);
      const found = eventsInBody(value, shape);
      if ('error' in found) throw new ApiError(400, 'invalid_body', found.error);
      const { events } = found;
      if (events.length === 0) throw new ApiError(400, 'empty_batch', 'the request contains no events');
      if (events.length > config.MAX_EVENTS_PER_REQUEST) {
        throw new ApiError(
          413,
          'too_many_events',
          `a request may carry at most ${config.MAX_EVENTS_PER_REQUEST} events (MAX_EVENTS_PER_REQUEST); it had ${events.length}`,
        );
      }

      const { tenantId } = c.get('principal');
      // Every event of the request counts against the tenant's rate, rejected ones too: validating them is the work.
      access.ingestRate.take(tenantId, events.length, (await access.tenants.limitsFor(tenantId)).ingestEventsPerSecond);

      const ctx = {
        tenantId,
        receivedAtMs,
        ...eventTimeBounds(config),
        format: shape === 'usage' ? ('usage' as const) : ('cloudevents' as const),
      };
      const validated = events.map((event, index) => normaliseEvent(event, index, ctx));
      if (binary) validated[0] = binary.withHeaderIssues(validated[0]!);
      const rows: EventRow[] = [];
      for (const v of validated) if (v.row) rows.push(v.row);
      // Resolves only once every row is committed (or known to be a duplicate).
      const endDurable = metrics.durable.startTimer();
      const outcomes = await writer.write(rows);
      endDurable();

      let next = 0;
      const results = validated.map((v) => {
        if (!v.row) return { index: v.index, eventId: v.eventId ?? null, status: 'rejected' as const, errors: v.errors };
        const outcome = outcomes[next++]!;
        return outcome === 'refused'
          ? { index: v.index, eventId: v.eventId, status: 'rejected' as const, errors: [STORAGE_REFUSED] }
          : { index: v.index, eventId: v.eventId, status: outcome };
      });
      const counts = { accepted: 0, duplicate: 0, rejected: 0 };
      for (const r of results) counts[r.status]++;
      metrics.countIngest(tenantId, counts);
      const status = counts.rejected === 0 ? 200 : counts.rejected === results.length ? 422 : 207;
      return c.json({ results, accepted: counts.accepted, duplicates: counts.duplicate, rejected: counts.rejected }, status);
    },
  );

  app.openapi(listRoute, async (c) => c.json(await eventsPage(c, deps, c.req.valid('query')), 200));
  return app;
}

/** The query of an event listing (GET /v1/events); the portal lists with the customer fixed by the link. */
export type EventsQuery = z.infer<typeof eventsQuery>;

/** A page of stored events: the one implementation behind GET /v1/events and the portal's events. */
export async function eventsPage(
  c: Context<AppEnv>,
  { config, clock }: Pick<AppDeps, 'config' | 'clock'>,
  q: EventsQuery,
): Promise<{ data: z.infer<typeof storedEventRow>[]; nextCursor: string | null }> {
  const { tenantId } = c.get('principal');
  const fromMs = instantMs(q.from);
  const toMs = instantMs(q.to);
  assertWindow(fromMs, toMs);
  assertRetained(fromMs, config.RAW_RETENTION_DAYS, clock.now());
  const after = decodeCursor(q.cursor, z.tuple([z.number().int(), z.string()]));
  const rows = await listEvents(
    c.get('reader'),
    {
      tenantId,
      customerId: q.customerId ?? null,
      metricName: q.metricName ?? null,
      fromMs: fromMs ?? null,
      toMs: toMs ?? null,
      afterMs: after?.[0] ?? null,
      afterId: after?.[1] ?? '',
      limit: q.limit + 1,
    },
    { route: 'GET /v1/events', tenantId, requestId: c.get('requestId') },
  );
  const page = rows.slice(0, q.limit);
  const last = page.at(-1);
  const nextCursor = rows.length > q.limit && last ? encodeCursor([Date.parse(last.timestamp), last.eventId]) : null;
  return { data: page, nextCursor };
}
