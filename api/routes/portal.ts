import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import type { AppDeps, AppEnv } from '../context.js';
import { ApiError, errorSchema } from '../errors.js';
import { defaultCycle } from '../config.js';
import { needs } from '../route-scopes.js';
import { jsonOf } from '../params.js';
import { countsAsInteger, listMeters, type Meter } from '../../sql/queries/meters.js';
import { exportedValues } from '../../sql/queries/exports.js';
import { linkScope } from '../../access/scopes.js';
import { cycleOf, recentPeriods } from '../../jobs/billing/customer-periods.js';
import { answerMeterUsage, meterUsageQuery } from './meter-usage.js';
import { eventsPage, eventsQuery } from './events.js';
import { customerTotals } from '../usage/period-total.js';
import { csvText } from '../../sql/csv-cells.js';
import { csvBody } from '../usage/body-stream.js';
import { storedEventRow } from '../../sql/queries/events.js';
import { count } from '../../sql/count.js';

const PORTAL = needs(linkScope('portal'));
const keyParam = z.object({ key: z.string().min(1).max(64) });
const refreshedAt = z.string().openapi({ description: 'Every event acknowledged before this instant is in these numbers (the read began then)' });
const csvOr = <T extends z.ZodType>(schema: T) => ({ 'application/json': { schema }, 'text/csv': { schema: z.string() } });
const period = z.object({ start: z.string(), end: z.string() });
const value = z
  .union([z.string(), z.number(), z.null()])
  .openapi({ description: 'Exact decimal string, or an integer for COUNT and UNIQUE_COUNT; null where no value exists' });
const noMeter = { description: 'No such meter, or not one this link shows', content: jsonOf(errorSchema) };

/**
 * An export's value (an exact decimal string) as the periods answer gives a value of this meter: an integer for COUNT
 * and UNIQUE_COUNT, as when the period is computed; a count of 2^53 or more is refused (sql/count.ts), never rounded.
 */
const exportedValue = (meter: Pick<Meter, 'aggregation'>, billed: string): string | number =>
  countsAsInteger(meter.aggregation) ? count.parse(billed) : billed;

const routes = {
  customer: createRoute({
    method: 'get',
    path: '/v1/portal/customer',
    summary: "The dashboard link's customer: name, time zone, billing cycle, the current period, and the meters the link shows",
    security: PORTAL,
    responses: {
      200: {
        description: 'The customer',
        content: jsonOf(
          z
            .object({
              customer: z.object({
                customerId: z.string(),
                name: z.string(),
                timezone: z.string(),
                billingCycle: z.object({ interval: z.string(), anchorDay: z.number().int() }),
              }),
              currentPeriod: period,
              meters: z.array(z.object({ key: z.string(), name: z.string(), aggregation: z.string(), groupBy: z.array(z.string()) })),
              expiresAt: z.string(),
              refreshedAt,
            })
            .openapi('PortalCustomer'),
        ),
      },
    },
  }),
  periods: createRoute({
    method: 'get',
    path: '/v1/portal/meters/{key}/periods',
    summary:
      "A meter's value for the current period to date and for previous periods (from the exports once closed, computed otherwise, and saying which); Accept: text/csv for CSV",
    security: PORTAL,
    request: { params: keyParam, query: z.object({ previous: z.coerce.number().int().min(0).max(24).default(6) }) },
    responses: {
      200: {
        description: 'Current period first, then earlier ones, newest first',
        content: csvOr(
          z
            .object({
              meter: z.string(),
              current: period.extend({ value }),
              previous: z.array(period.extend({ value, source: z.enum(['export', 'computed']) })),
              refreshedAt,
            })
            .openapi('PortalPeriods'),
        ),
      },
      404: noMeter,
    },
  }),
  usage: createRoute({
    method: 'get',
    path: '/v1/portal/meters/{key}/usage',
    summary: 'The meter usage API (windows, granularity, time zone, groupBy, filter[...]) with the customer fixed by the link; Accept: text/csv for CSV',
    security: PORTAL,
    request: { params: keyParam, query: meterUsageQuery.omit({ customerId: true }) },
    responses: {
      200: {
        description: 'As GET /v1/meters/{key}/usage, plus refreshedAt',
        content: csvOr(z.object({ data: z.array(z.record(z.string(), z.unknown())), nextCursor: z.string().nullable(), refreshedAt })),
      },
      400: { description: 'Invalid parameters', content: jsonOf(errorSchema) },
      404: noMeter,
    },
  }),
  events: createRoute({
    method: 'get',
    path: '/v1/portal/meters/{key}/events',
    summary: "The customer's stored events of the meter's metric, oldest first, cursor-paginated; Accept: text/csv for CSV",
    security: PORTAL,
    request: { params: keyParam, query: eventsQuery.omit({ customerId: true, metricName: true }) },
    responses: {
      200: { description: 'A page of events', content: csvOr(z.object({ data: z.array(storedEventRow), nextCursor: z.string().nullable(), refreshedAt })) },
      404: noMeter,
    },
  }),
};

const wantsCsv = (c: Context) => (c.req.header('accept') ?? '').includes('text/csv');
const iso = (ms: number) => new Date(ms).toISOString();

/** Customer dashboards' data (README "Customer dashboards"): every read is fixed to the link's tenant, customer and meters. */
export function portalRoutes(deps: AppDeps) {
  const { config, clock } = deps;
  const app = new OpenAPIHono<AppEnv>();
  const tags = (c: Context<AppEnv>, route: string) => ({ route, tenantId: c.get('link').tenantId, requestId: c.get('requestId') });
  /** A meter this link shows; one it does not is as absent as one that does not exist. */
  const allowedMeter = async (c: Context<AppEnv>, key: string): Promise<Meter> => {
    const { tenantId, meters } = c.get('link');
    const meter = meters === null || meters.includes(key) ? await deps.meters.get({ tenantId, key }) : undefined;
    if (!meter) throw new ApiError(404, 'not_found', `no meter "${key}" on this dashboard`);
    return meter;
  };
  const cycleFor = async (c: Context<AppEnv>) => {
    const { tenantId, customerId } = c.get('link');
    const record = await deps.customers.get({ tenantId, customerId });
    return {
      record,
      cycle: cycleOf(record, defaultCycle(config)),
    };
  };

  app.openapi(routes.customer, async (c) => {
    const readAt = clock.now();
    const link = c.get('link');
    const { record, cycle } = await cycleFor(c);
    const all = await listMeters(c.get('reader'), link.tenantId);
    const shown = link.meters === null ? all : all.filter((m) => link.meters!.includes(m.key));
    const { current } = recentPeriods(readAt, cycle, 0);
    return c.json(
      {
        customer: {
          customerId: link.customerId,
          name: record?.name ?? '',
          timezone: cycle.timezone,
          billingCycle: { interval: cycle.interval, anchorDay: cycle.anchorDay },
        },
        currentPeriod: { start: iso(current.startMs), end: iso(current.endMs) },
        meters: shown.map((m) => ({ key: m.key, name: m.name ?? m.key, aggregation: m.aggregation, groupBy: m.groupBy })),
        expiresAt: iso(link.expiresAtMs),
        refreshedAt: iso(readAt),
      },
      200,
    );
  });

  app.openapi(routes.periods, async (c) => {
    const readAt = clock.now();
    const { tenantId, customerId } = c.get('link');
    const meter = await allowedMeter(c, c.req.valid('param').key);
    const { cycle } = await cycleFor(c);
    const { current, previous } = recentPeriods(readAt, cycle, c.req.valid('query').previous);
    const reader = c.get('reader');
    const t = tags(c, 'GET /v1/portal/meters/{key}/periods');
    // What the exports said per period (usage lines plus later adjustments): a closed period's billed value.
    const exported = new Map(
      (await exportedValues(reader, { tenantId, uptoSequence: Number.MAX_SAFE_INTEGER, customers: [customerId] }, t))
        .filter((r) => r.meterKey === meter.key)
        .map((r) => [r.startMs, r.value]),
    );
    // Oldest first, as one run of consecutive periods; periods already exported are read from the exports instead.
    const periods = [...previous].reverse().concat(current);
    const computed = periods.filter((p) => p === current || !exported.has(p.startMs));
    const totals = await customerTotals(
      reader,
      { readableFrom: deps.tiers.readableFrom(readAt), tenantId, customerId, meter, tz: cycle.timezone, periods: computed },
      t,
    );
    const valueOf = new Map(computed.map((p, i) => [p.startMs, totals[i]!]));
    const currentValue = valueOf.get(current.startMs)!;
    const earlier = previous.map((p) => {
      const billed = exported.get(p.startMs);
      return {
        start: iso(p.startMs),
        end: iso(p.endMs),
        value: billed === undefined ? valueOf.get(p.startMs)! : exportedValue(meter, billed),
        source: billed === undefined ? ('computed' as const) : ('export' as const),
      };
    });
    const answer = {
      meter: meter.key,
      current: { start: iso(current.startMs), end: iso(current.endMs), value: currentValue },
      previous: earlier,
      refreshedAt: iso(readAt),
    };
    if (!wantsCsv(c)) return c.json(answer, 200);
    const rows = [
      [answer.current.start, answer.current.end, answer.current.value ?? '', 'current'],
      ...earlier.map((p) => [p.start, p.end, p.value ?? '', p.source]),
    ];
    return csvAnswer(c, ['periodStart', 'periodEnd', 'value', 'source'], rows, answer.refreshedAt, `${meter.key}-periods.csv`);
  });

  app.openapi(routes.usage, async (c) => {
    const readAt = iso(clock.now());
    const meter = await allowedMeter(c, c.req.valid('param').key);
    const q = c.req.valid('query');
    const groupBy = q.groupBy === undefined ? [] : Array.isArray(q.groupBy) ? q.groupBy : [q.groupBy];
    if (groupBy.includes('customerId')) throw new ApiError(400, 'invalid_request', 'a dashboard shows one customer: groupBy customerId does not apply');
    c.header('x-refreshed-at', readAt);
    if (wantsCsv(c)) c.header('content-disposition', `attachment; filename="${meter.key}-usage.csv"`);
    return answerMeterUsage(c, deps, meter, { ...q, customerId: c.get('link').customerId }, { refreshedAt: readAt });
  });

  app.openapi(routes.events, async (c) => {
    const readAt = iso(clock.now());
    const meter = await allowedMeter(c, c.req.valid('param').key);
    const page = await eventsPage(c, deps, { ...c.req.valid('query'), customerId: c.get('link').customerId, metricName: meter.metricName });
    if (!wantsCsv(c)) return c.json({ ...page, refreshedAt: readAt }, 200);
    if (page.nextCursor) c.header('x-next-cursor', page.nextCursor);
    const rows = page.data.map((e) => [csvText(e.eventId), e.timestamp, csvText(e.metricName), e.quantity, csvText(JSON.stringify(e.dimensions))]);
    return csvAnswer(c, ['eventId', 'timestamp', 'metricName', 'quantity', 'dimensions'], rows, readAt, `${meter.key}-events.csv`);
  });
  return app;
}

function csvAnswer(c: Context, header: string[], rows: unknown[][], refreshedAt: string, filename: string): Response {
  c.header('content-type', 'text/csv; charset=utf-8');
  c.header('content-disposition', `attachment; filename="${filename}"`);
  c.header('x-refreshed-at', refreshedAt);
  return c.body(csvBody(header, rows), 200) as never;
}
