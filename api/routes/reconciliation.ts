import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import type { AppDeps, AppEnv } from '../context.js';
import { ApiError, errorSchema } from '../errors.js';
import { assertRetained, assertWindow, instantMs, instantParam, jsonOf } from '../params.js';
import { needs } from '../route-scopes.js';
import { correctionsPerDay, deadLettersPerDay, exportedPerDay, receivedPerDay, rollupPerDay, storedPerDay } from '../../sql/queries/reconciliation.js';
import { mergeCounts, reconcileDay } from '../../domain/reconciliation.js';
import { DAY_MS } from '../../domain/time.js';

/** Days per report: each read scans the tenant's events of the window. */
export const RECONCILIATION_MAX_DAYS = 93;

const difference = z.object({
  check: z.enum(['rollups', 'exports', 'dead_letters']),
  expected: z.number().int(),
  actual: z.number().int(),
  where: z.string().openapi({ description: 'What explains the difference and where to look' }),
});

const reconciliationDay = z
  .object({
    day: z.string().openapi({ example: '2026-11-02', description: 'UTC day of event time (dead letters: of arrival)' }),
    metricName: z.string(),
    received: z.object({ api: z.number().int(), kafka: z.number().int(), unknown: z.number().int() }).openapi({
      description:
        'Deliveries stored by the direct API writer and consumed from Kafka (unknown: stored before the path was recorded), before duplicates collapse; a duplicate the API answered is not stored and not counted here',
    }),
    duplicatesCollapsed: z
      .number()
      .int()
      .openapi({ description: 'Stored deliveries of an event already stored (Kafka redelivery, several writers), counted once everywhere' }),
    corrections: z.number().int().openapi({ description: 'Amend and void versions written' }),
    stored: z.number().int().openapi({ description: 'Events as every number counts them (one per identity, voids left out)' }),
    deadLettered: z.number().int(),
    inRollups: z.number().int().nullable().openapi({ description: 'Events in the day rollup; null when it has expired (ROLLUP_DAY_RETENTION_DAYS)' }),
    exports: z.object({ inClosedPeriods: z.number().int(), inExports: z.number().int() }),
    differences: z.array(difference),
  })
  .openapi('ReconciliationDay');

const route = createRoute({
  method: 'get',
  path: '/v1/reconciliation',
  summary:
    'Per UTC day and metric: received (API, Kafka), stored, duplicates collapsed, dead-lettered, in rollups, in exports; differences flagged with where to look (admin)',
  security: needs('admin'),
  request: {
    query: z.object({
      from: instantParam('from').openapi({ description: 'Start of a UTC day (inclusive)', example: '2026-11-01T00:00:00Z' }),
      to: instantParam('to').openapi({ description: 'Start of a UTC day (exclusive)', example: '2026-12-01T00:00:00Z' }),
    }),
  },
  responses: {
    200: {
      description: 'The report; `ok` is false when any day has a difference',
      content: jsonOf(z.object({ from: z.string(), to: z.string(), ok: z.boolean(), days: z.array(reconciliationDay) })),
    },
    400: { description: 'Invalid window', content: { 'application/json': { schema: errorSchema } } },
    422: { description: 'The window reaches past raw retention', content: { 'application/json': { schema: errorSchema } } },
  },
});

export function reconciliationRoutes({ config, clock }: AppDeps) {
  const app = new OpenAPIHono<AppEnv>();
  app.openapi(route, async (c) => {
    const q = c.req.valid('query');
    const fromMs = instantMs(q.from);
    const toMs = instantMs(q.to);
    // Whole days only: a partial day would compare a partial count with a whole day's rollup.
    if (fromMs % DAY_MS !== 0 || toMs % DAY_MS !== 0)
      throw new ApiError(400, 'invalid_request', 'from and to must be starts of UTC days (00:00:00Z): the report compares whole days');
    assertWindow(fromMs, toMs);
    if (toMs - fromMs > RECONCILIATION_MAX_DAYS * DAY_MS)
      throw new ApiError(400, 'invalid_request', `the window may span at most ${RECONCILIATION_MAX_DAYS} days; ask for several windows`);
    assertRetained(fromMs, config.RAW_RETENTION_DAYS, clock.now());
    const { tenantId } = c.get('principal');
    const reader = c.get('reader');
    const params = { tenantId, fromMs, toMs };
    const tags = { route: 'GET /v1/reconciliation', tenantId, requestId: c.get('requestId') };
    // One at a time: the leased reader is one connection.
    const received = await receivedPerDay(reader, params, tags);
    const corrections = await correctionsPerDay(reader, params, tags);
    const stored = await storedPerDay(reader, params, tags);
    const rollups = await rollupPerDay(reader, params, tags);
    const dead = await deadLettersPerDay(reader, params, tags);
    const exported = await exportedPerDay(reader, params, tags);
    const retention = config.ROLLUP_DAY_RETENTION_DAYS;
    const rollupsFromDay = retention > 0 ? new Date(clock.now() - (retention - 1) * DAY_MS).toISOString().slice(0, 10) : undefined;
    const days = mergeCounts(received, corrections, stored, rollups, dead, exported).map((d) => reconcileDay(d, rollupsFromDay));
    return c.json({ from: new Date(fromMs).toISOString(), to: new Date(toMs).toISOString(), ok: days.every((d) => d.differences.length === 0), days }, 200);
  });
  return app;
}
