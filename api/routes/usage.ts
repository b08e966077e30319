import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import type { AppDeps, AppEnv } from '../context.js';
import { needs } from '../route-scopes.js';
import { errorSchema } from '../errors.js';
import { usageSummary } from '../../sql/queries/events.js';
import { assertRetained, assertWindow, decodeCursor, encodeCursor, instantMs, instantParam, limitParam } from '../params.js';

const summaryRow = z
  .object({
    customerId: z.string(),
    metricName: z.string(),
    quantity: z.string().openapi({ description: 'Exact decimal sum', example: '0.3' }),
    events: z.number().int(),
  })
  .openapi('UsageSummaryRow');

const summaryRoute = createRoute({
  method: 'get',
  path: '/v1/usage/summary',
  summary: 'Exact usage per customer and metric over [from, to)',
  security: needs('usage:read'),
  request: {
    query: z.object({
      from: instantParam('from'),
      to: instantParam('to'),
      customerId: z.string().min(1).max(256).optional(),
      metricName: z.string().min(1).max(128).optional(),
      limit: limitParam(1000, 10_000),
      cursor: z.string().max(2048).optional(),
    }),
  },
  responses: {
    200: {
      description: 'Usage rows ordered by customerId, metricName',
      content: { 'application/json': { schema: z.object({ data: z.array(summaryRow), nextCursor: z.string().nullable() }) } },
    },
    400: { description: 'Invalid parameters', content: { 'application/json': { schema: errorSchema } } },
  },
});

export function usageRoutes({ db, config, clock }: AppDeps) {
  const app = new OpenAPIHono<AppEnv>();
  app.openapi(summaryRoute, async (c) => {
    const q = c.req.valid('query');
    const { tenantId } = c.get('principal');
    const fromMs = instantMs(q.from);
    const toMs = instantMs(q.to);
    assertWindow(fromMs, toMs);
    assertRetained(fromMs, config.RAW_RETENTION_DAYS, clock.now());
    const after = decodeCursor(q.cursor, z.tuple([z.string(), z.string()]));
    const rows = await usageSummary(
      db,
      {
        tenantId,
        fromMs,
        toMs,
        customerId: q.customerId ?? null,
        metricName: q.metricName ?? null,
        afterCustomerId: after?.[0] ?? null,
        afterMetricName: after?.[1] ?? '',
        limit: q.limit + 1,
      },
      { route: 'GET /v1/usage/summary', tenantId, requestId: c.get('requestId') },
    );
    const page = rows.slice(0, q.limit);
    const last = page.at(-1);
    const nextCursor = rows.length > q.limit && last ? encodeCursor([last.customerId, last.metricName]) : null;
    return c.json({ data: page, nextCursor }, 200);
  });
  return app;
}
