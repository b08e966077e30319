import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import type { AppDeps, AppEnv } from '../context.js';
import { needs } from '../route-scopes.js';
import { errorSchema } from '../errors.js';
import { usageSummary } from '../../sql/queries/usage-summary.js';
import { chooseSource } from '../usage/plan.js';
import { bytesBody } from '../usage/body-stream.js';
import { assertRetained, assertWindow, decodeCursor, encodeCursor, instantMs, instantParam, limitParam } from '../params.js';

const summaryRow = z
  .object({
    customerId: z.string(),
    metricName: z.string(),
    quantity: z.string().openapi({ description: 'Exact decimal sum', example: '0.3' }),
    events: z.number().int(),
  })
  .openapi('UsageSummaryRow');

const summaryMeta = z
  .object({
    source: z.string().openapi({
      description:
        'Where the numbers come from: `usage_events` (raw events, FINAL), or `usage_per_hour+usage_events` / `usage_per_day+usage_events`: the rollup for windows the reconciler has checked, raw events for windows holding rows stored since',
      example: 'usage_per_day+usage_events',
    }),
    rawWindows: z.number().int().openapi({ description: 'Rollup windows read from raw events because they hold rows stored since the last reconciliation' }),
  })
  .openapi('UsageSummaryMeta');

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
      content: { 'application/json': { schema: z.object({ data: z.array(summaryRow), meta: summaryMeta, nextCursor: z.string().nullable() }) } },
    },
    400: { description: 'Invalid parameters', content: { 'application/json': { schema: errorSchema } } },
  },
});

export function usageRoutes({ config, clock, tiers }: AppDeps) {
  const app = new OpenAPIHono<AppEnv>();
  app.openapi(summaryRoute, async (c) => {
    const q = c.req.valid('query');
    const { tenantId } = c.get('principal');
    const fromMs = instantMs(q.from);
    const toMs = instantMs(q.to);
    assertWindow(fromMs, toMs);
    assertRetained(fromMs, config.RAW_RETENTION_DAYS, clock.now());
    const after = decodeCursor(q.cursor, z.tuple([z.string(), z.string()]));
    // The coarsest hour or day rollup whose windows tile [from, to) and that still keeps `from`.
    const source = chooseSource([{ alignedStartMs: fromMs, startMs: fromMs, endMs: toMs }], 'SUM', tiers.readableFrom(clock.now()));
    const tier = source.kind === 'rollup' && source.tier.name !== 'minute' ? source.tier : undefined;
    const answer = await usageSummary(
      c.get('reader'),
      {
        tenantId,
        fromMs,
        toMs,
        customerId: q.customerId ?? null,
        metricName: q.metricName ?? null,
        after: after ? { customerId: after[0], metricName: after[1] } : null,
        limit: q.limit,
        tier,
      },
      { route: 'GET /v1/usage/summary', tenantId, requestId: c.get('requestId') },
    );
    const nextCursor = answer.more && answer.last ? encodeCursor([answer.last.customerId, answer.last.metricName]) : null;
    const meta = { source: answer.rollup ? `${answer.rollup}+usage_events` : 'usage_events', rawWindows: answer.rawWindows };
    // The rows are the engine's JSON as it wrote them (sql/queries/usage-summary.ts): spliced in, not parsed and written again.
    const head = Buffer.from('{"data":[');
    const rest = Buffer.from(`],${JSON.stringify({ meta, nextCursor }).slice(1)}`);
    // The engine's answer as it is, between the two small pieces: no copy of it (api/usage/body-stream.ts).
    const { body, length } = bytesBody([head, answer.elements, rest]);
    c.header('content-type', 'application/json');
    c.header('content-length', String(length));
    return c.body(body, 200) as never;
  });
  return app;
}
