import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import type { AppDeps, AppEnv } from '../context.js';
import { needs } from '../route-scopes.js';
import { ApiError, errorSchema } from '../errors.js';
import type { Meter } from '../../sql/queries/meters.js';
import { GRANULARITIES, meterUsage, type UsageCell } from '../../sql/queries/meter-usage.js';
import { assertRetained, assertWindow, decodeCursor, encodeCursor, instantMs, instantParam } from '../params.js';
import { MAX_WINDOWS, windowsFor, type UsageWindow } from '../usage/windows.js';
import { isTimeZone, TIME_ZONE_MESSAGE } from '../usage/time-zones.js';
import { chooseSource } from '../usage/plan.js';
import { csvText } from '../../sql/csv-cells.js';
import { csvBody, jsonDataBody } from '../usage/body-stream.js';
import type { Context } from 'hono';
import { emptyValue } from '../usage/period-total.js';

const usageRow = z
  .object({
    windowStart: z.string(),
    windowEnd: z.string(),
    value: z.union([z.string(), z.number(), z.null()]).openapi({
      description: 'Exact decimal string (SUM, MIN, MAX, AVG, LATEST, P*) or integer (COUNT, UNIQUE_COUNT); null for an empty window of MIN/MAX/AVG/LATEST/P*',
    }),
    customerId: z.string().optional(),
    groupBy: z.record(z.string(), z.string()).optional(),
  })
  .openapi('MeterUsageRow');

export const meterUsageQuery = z.object({
  from: instantParam('from'),
  to: instantParam('to'),
  granularity: z.enum(GRANULARITIES).default('day'),
  tz: z.string().max(64).default('UTC').refine(isTimeZone, `tz ${TIME_ZONE_MESSAGE}`),
  customerId: z.string().min(1).max(256).optional(),
  groupBy: z
    .union([z.string(), z.array(z.string())])
    .optional()
    .openapi({ description: "customerId or one of the meter's groupBy dimensions; repeatable" }),
  cursor: z.string().max(8192).optional().openapi({ description: 'nextCursor of the previous page (grouped reads come in pages of whole groups)' }),
});

const route = createRoute({
  method: 'get',
  path: '/v1/meters/{key}/usage',
  summary:
    "A meter's values per window, in a time zone; filter[<dim>]=<value> (repeatable) restricts one of the dimensions the meter names (groupBy, filter, uniqueDimension)",
  security: needs('usage:read'),
  request: {
    params: z.object({ key: z.string().min(1).max(64) }),
    query: meterUsageQuery,
  },
  responses: {
    200: {
      description: 'Windows in order (per group), gaps filled; Accept: text/csv gives the same as CSV',
      content: {
        'application/json': {
          schema: z.object({ data: z.array(usageRow), meta: z.object({ source: z.string(), windows: z.number() }), nextCursor: z.string().nullable() }),
        },
        'text/csv': { schema: z.string() },
      },
      headers: z.object({ 'x-next-cursor': z.string().optional().openapi({ description: 'CSV answers: the cursor of the next page, when there is one' }) }),
    },
    400: { description: 'Invalid parameters', content: { 'application/json': { schema: errorSchema } } },
    422: {
      description: 'A read limit was passed (read_limit_exceeded): details say which and how to narrow the query',
      content: { 'application/json': { schema: errorSchema } },
    },
    404: { description: 'No such meter', content: { 'application/json': { schema: errorSchema } } },
  },
});

/** filter[<dim>]=<value> pairs of a query string, repeated values collected. */
function queryFilters(url: string): { dimension: string; values: string[] }[] {
  const byDimension = new Map<string, string[]>();
  for (const [name, value] of new URL(url).searchParams) {
    const m = /^filter\[(.{1,128})\]$/.exec(name);
    if (!m) continue;
    byDimension.set(m[1]!, [...(byDimension.get(m[1]!) ?? []), value]);
  }
  if (byDimension.size > 10) throw new ApiError(400, 'invalid_request', 'at most 10 filter[...] dimensions');
  return [...byDimension].map(([dimension, values]) => ({ dimension, values }));
}

/** The dimensions a meter's definition names: its groupBy, the ones it filters on, and its unique dimension. */
function dimensionsOf(meter: Meter): string[] {
  return [...new Set([...meter.groupBy, ...Object.keys(meter.filter), ...(meter.uniqueDimension ? [meter.uniqueDimension] : [])])];
}

/** Spread cells over every window of each group that has data (one group when nothing is grouped), filling gaps; groups keep the engine's order. */
function fill(meter: Meter, windows: UsageWindow[], cells: UsageCell[], grouped: boolean) {
  const index = new Map(windows.map((w, i) => [w.alignedStartMs, i]));
  const groups = new Map<string, { customerId?: string | undefined; groups: string[]; values: (string | number | null)[] }>();
  const empty = emptyValue(meter);
  if (!grouped) groups.set('[]', { groups: [], values: windows.map(() => empty) });
  for (const cell of cells) {
    const i = index.get(cell.bucketMs);
    // The engine and the window arithmetic must agree on every window: never drop a value silently.
    if (i === undefined) throw new Error(`usage bucket ${new Date(cell.bucketMs).toISOString()} is not a window of this query`);
    const key = JSON.stringify(cell.customerId === undefined ? cell.groups : [cell.customerId, ...cell.groups]);
    let group = groups.get(key);
    if (!group) groups.set(key, (group = { customerId: cell.customerId, groups: cell.groups, values: windows.map(() => empty) }));
    group.values[i] = cell.value;
  }
  return [...groups.values()];
}

type Group = ReturnType<typeof fill>[number];
const groupKeyOf = (g: Group) => (g.customerId === undefined ? g.groups : [g.customerId, ...g.groups]);

/**
 * At most `groupsPerPage` whole groups of a grouped read that asked for `limit`
 * cells. A cut answer (as many cells as asked) may end inside a group: that
 * group is left to the next page.
 */
export function pageOfGroups(groups: Group[], cellCount: number, limit: number, groupsPerPage: number): { page: Group[]; nextAfter: string[] | undefined } {
  const cut = cellCount >= limit;
  const whole = cut ? groups.slice(0, -1) : groups;
  const page = whole.slice(0, groupsPerPage);
  if (cut && page.length === 0) throw new Error('a page of usage cells held no whole group');
  const more = cut || whole.length > page.length;
  return { page, nextAfter: more && page.length > 0 ? groupKeyOf(page.at(-1)!) : undefined };
}

export function meterUsageRoute(app: OpenAPIHono<AppEnv>, deps: AppDeps, found: (tenantId: string, key: string) => Promise<Meter>) {
  app.openapi(route, async (c) => answerMeterUsage(c, deps, await found(c.get('principal').tenantId, c.req.valid('param').key), c.req.valid('query')));
}

/** The query of a usage read (GET /v1/meters/{key}/usage); the portal's reads take the same, with the customer fixed by the link. */
export type MeterUsageQuery = z.infer<typeof meterUsageQuery>;

/** A meter's usage per window as JSON or CSV: the one implementation behind the meter usage API and the portal. */
export async function answerMeterUsage(
  c: Context<AppEnv>,
  { config, clock, tiers }: AppDeps,
  meter: Meter,
  q: MeterUsageQuery,
  extra: Record<string, unknown> = {},
): Promise<Response> {
  const { tenantId } = c.get('principal');
  const fromMs = instantMs(q.from);
  const toMs = instantMs(q.to);
  assertWindow(fromMs, toMs);
  assertRetained(fromMs, config.RAW_RETENTION_DAYS, clock.now());
  const requested = q.groupBy === undefined ? [] : Array.isArray(q.groupBy) ? q.groupBy : [q.groupBy];
  for (const g of requested) {
    if (g !== 'customerId' && !meter.groupBy.includes(g)) {
      throw new ApiError(
        400,
        'invalid_request',
        `groupBy "${g}" is not allowed by meter "${meter.key}" (allowed: customerId${meter.groupBy.map((d) => `, ${d}`).join('')})`,
      );
    }
  }
  // A filter on a dimension the meter does not name would answer zeros that look like data: refused, as an unknown groupBy is.
  const queryFilterList = queryFilters(c.req.url);
  const named = dimensionsOf(meter);
  for (const { dimension } of queryFilterList) {
    if (!named.includes(dimension)) {
      throw new ApiError(
        400,
        'invalid_request',
        `filter[${dimension}]: "${dimension}" is not a dimension of meter "${meter.key}" (its dimensions: ${named.join(', ') || 'none'}; add it to the meter's groupBy to filter on it)`,
      );
    }
  }
  const groupByCustomer = requested.includes('customerId');
  const dimensions = [...new Set(requested.filter((g) => g !== 'customerId'))];
  const windows = windowsFor(fromMs, toMs, q.granularity, q.tz);
  if (!windows) throw new ApiError(400, 'too_many_windows', `the query spans more than ${MAX_WINDOWS} ${q.granularity} windows; use a coarser granularity`);

  const source = chooseSource(windows, meter.aggregation, tiers.readableFrom(clock.now()));
  const meterFilters = Object.entries(meter.filter).map(([dimension, values]) => ({ dimension, values }));
  const grouped = groupByCustomer || dimensions.length > 0;
  const keyLength = (groupByCustomer ? 1 : 0) + dimensions.length;
  const afterGroup = decodeCursor(q.cursor, z.array(z.string()).length(keyLength));
  if (afterGroup && !grouped) throw new ApiError(400, 'invalid_cursor', 'cursor is not one this API issued');
  // Whole groups per page, so that a page never builds more than READ_MAX_PAGE_ROWS rows in memory.
  const groupsPerPage = Math.max(1, Math.floor(config.READ_MAX_PAGE_ROWS / windows.length));
  const maxCells = groupsPerPage * windows.length + 1;
  const { cells, source: answeredFrom } = await meterUsage(
    c.get('reader'),
    {
      tenantId,
      metricName: meter.metricName,
      aggregation: meter.aggregation,
      uniqueDimension: meter.uniqueDimension,
      source,
      granularity: q.granularity,
      tz: q.tz,
      fromMs,
      toMs,
      customerId: q.customerId,
      groupByCustomer,
      groupBy: dimensions,
      filters: [...meterFilters, ...queryFilterList],
      page: { afterGroup, maxCells },
    },
    { route: 'GET /v1/meters/{key}/usage', tenantId, requestId: c.get('requestId') },
  );

  const { page, nextAfter } = grouped
    ? pageOfGroups(fill(meter, windows, cells, true), cells.length, maxCells, groupsPerPage)
    : { page: fill(meter, windows, cells, false), nextAfter: undefined };
  const nextCursor = nextAfter ? encodeCursor(nextAfter) : null;
  // Rows are made as the body is written (chunked, with event-loop turns between chunks).
  const pageWindows: UsageWindow[] = windows;
  function* rows() {
    for (const g of page) {
      for (let i = 0; i < pageWindows.length; i++) {
        const w = pageWindows[i]!;
        yield {
          windowStart: new Date(w.startMs).toISOString(),
          windowEnd: new Date(w.endMs).toISOString(),
          value: g.values[i]!,
          ...(groupByCustomer ? { customerId: g.customerId } : {}),
          ...(dimensions.length > 0 ? { groupBy: Object.fromEntries(dimensions.map((d, j) => [d, g.groups[j]!])) } : {}),
        };
      }
    }
  }
  if ((c.req.header('accept') ?? '').includes('text/csv')) {
    // Text cells (ids, dimension names and values) are neutralised against formula injection; values stay numbers.
    const header = ['windowStart', 'windowEnd', ...(groupByCustomer ? ['customerId'] : []), ...dimensions.map(csvText), 'value'];
    const csvRows = (function* () {
      for (const r of rows())
        yield [
          r.windowStart,
          r.windowEnd,
          ...(groupByCustomer ? [csvText(r.customerId!)] : []),
          ...dimensions.map((d) => csvText(r.groupBy![d]!)),
          r.value ?? '',
        ];
    })();
    c.header('content-type', 'text/csv; charset=utf-8');
    if (nextCursor) c.header('x-next-cursor', nextCursor);
    return c.body(csvBody(header, csvRows), 200) as never;
  }
  c.header('content-type', 'application/json');
  return c.body(
    jsonDataBody(rows(), {
      meta: { source: answeredFrom.kind === 'raw' ? 'usage_events' : answeredFrom.tier.table, windows: windows.length },
      nextCursor,
      ...extra,
    }),
    200,
  ) as never;
}
