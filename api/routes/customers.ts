import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import type { AppDeps, AppEnv } from '../context.js';
import { ApiError, errorSchema } from '../errors.js';
import { defaultCycle } from '../config.js';
import { needs } from '../route-scopes.js';
import { isTimeZone, TIME_ZONE_MESSAGE } from '../usage/time-zones.js';
import { decodeCursor, encodeCursor, limitParam, jsonOf } from '../params.js';
import { CYCLE_INTERVALS } from '../../jobs/billing/periods.js';
import { customerById, customersOfTenant, type CustomerRecord } from '../../sql/queries/customers.js';
import { saveCustomerRecord } from '../../jobs/billing/cycle-moves.js';
import { NO_CONTROL_CHARS } from '../../sql/control-chars.js';
import { actorOf } from './audit.js';
import { canonicalDecimal } from '../../alerts/rules.js';

const printable = (max: number) => z.string().min(1).max(max).regex(NO_CONTROL_CHARS, 'must not contain control characters');

const cycleInput = z.strictObject({ interval: z.enum(CYCLE_INTERVALS), anchorDay: z.number().int().min(1).max(28).optional() }).superRefine((c, ctx) => {
  if (c.interval === 'week' && c.anchorDay !== undefined && c.anchorDay > 7)
    ctx.addIssue({ code: 'custom', path: ['anchorDay'], message: 'is an ISO weekday 1-7 (1 = Monday) for weekly cycles' });
  if (c.interval === 'day' && c.anchorDay !== undefined) ctx.addIssue({ code: 'custom', path: ['anchorDay'], message: 'does not apply to daily cycles' });
});

// meterKey -> allowance: what percentage alert thresholds are percentages of; replaced whole when given.
const allowancesInput = z
  .record(z.string().regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, 'must be a meter key'), canonicalDecimal)
  .refine((a) => Object.keys(a).length <= 100, 'may hold at most 100 meters')
  .openapi({
    description: "Per meter key, the customer's allowance (plan amount): the base of percentage alert thresholds. Replaces the whole map.",
    example: { 'api-calls': '10000' },
  });

const customerInput = z.strictObject({
  name: z.string().max(200).regex(NO_CONTROL_CHARS, 'must not contain control characters').optional(),
  timezone: z.string().max(64).refine(isTimeZone, TIME_ZONE_MESSAGE).optional(),
  billingCycle: cycleInput.optional(),
  allowances: allowancesInput.optional(),
});

const customerSchema = z
  .object({
    customerId: z.string(),
    name: z.string(),
    timezone: z.string(),
    billingCycle: z.object({ interval: z.enum(CYCLE_INTERVALS), anchorDay: z.number().int() }),
    allowances: z.record(z.string(), z.string()),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .openapi('Customer');

const idParam = z.object({ customerId: printable(256) });

const routes = {
  put: createRoute({
    method: 'put',
    path: '/v1/customers/{customerId}',
    summary: "Create or change a customer's name, time zone and billing cycle (customers:write); omitted fields keep their value (or the tenant default)",
    security: needs('customers:write'),
    request: { params: idParam, body: { required: true, content: jsonOf(customerInput) } },
    responses: {
      200: { description: 'Changed', content: jsonOf(customerSchema) },
      201: { description: 'Created', content: jsonOf(customerSchema) },
      409: {
        description:
          'The cycle or time zone would move periods that were already exported (or that a close run exported while the change was saved: the change is undone)',
        content: jsonOf(errorSchema),
      },
    },
  }),
  list: createRoute({
    method: 'get',
    path: '/v1/customers',
    summary: 'Customers with a record, by id',
    security: needs('usage:read'),
    request: { query: z.object({ limit: limitParam(100, 1000), cursor: z.string().max(2048).optional() }) },
    responses: { 200: { description: 'A page of customers', content: jsonOf(z.object({ data: z.array(customerSchema), nextCursor: z.string().nullable() })) } },
  }),
  get: createRoute({
    method: 'get',
    path: '/v1/customers/{customerId}',
    summary: "A customer's record",
    security: needs('usage:read'),
    request: { params: idParam },
    responses: {
      200: { description: 'The customer', content: jsonOf(customerSchema) },
      404: { description: 'No record: the tenant default applies', content: jsonOf(errorSchema) },
    },
  }),
};

const view = (c: CustomerRecord) => ({
  customerId: c.customerId,
  name: c.name,
  timezone: c.timezone,
  billingCycle: { interval: c.interval, anchorDay: c.anchorDay },
  allowances: c.allowances,
  createdAt: c.createdAt,
  updatedAt: c.updatedAt,
});

export function customerRoutes({ db, config, audit, customers }: AppDeps) {
  const app = new OpenAPIHono<AppEnv>();

  app.openapi(routes.put, async (c) => {
    const { tenantId } = c.get('principal');
    const { customerId } = c.req.valid('param');
    const input = c.req.valid('json');
    const [current] = await customerById(db, { tenantId, customerId }, { tenantId });
    const interval = input.billingCycle?.interval ?? current?.interval ?? config.BILLING_DEFAULT_INTERVAL;
    // A changed interval does not inherit the old anchor (a month's 15th is no weekday).
    const sameAs = current ?? { interval: config.BILLING_DEFAULT_INTERVAL, anchorDay: config.BILLING_DEFAULT_ANCHOR_DAY };
    const defaultAnchor = interval === 'day' ? 1 : interval === sameAs.interval ? sameAs.anchorDay : 1;
    const next = {
      customerId,
      name: input.name ?? current?.name ?? '',
      timezone: input.timezone ?? current?.timezone ?? config.BILLING_DEFAULT_TIMEZONE,
      interval,
      anchorDay: input.billingCycle?.anchorDay ?? defaultAnchor,
      allowances: input.allowances ?? current?.allowances ?? {},
    };
    // Forgotten whatever the outcome: a refused change may still have written (and undone) the record.
    const outcome = await saveCustomerRecord(db, tenantId, next, current, defaultCycle(config), { tenantId }).finally(() =>
      customers.forget({ tenantId, customerId }),
    );
    // Periods already exported must keep their bounds: adjustments reference them.
    if ('refused' in outcome)
      throw new ApiError(
        409,
        'conflict',
        outcome.refused === 'exported'
          ? `customer "${customerId}" has exported billing periods; its time zone and billing cycle can no longer change`
          : `customer "${customerId}" was billed in its current cycle while this change was saved; the change was undone, and its time zone and billing cycle can no longer change`,
      );
    const saved = outcome.saved;
    await audit.record(actorOf(c), 'customer.put', { target: customerId, before: current && view(current), after: view(saved) });
    return c.json(view(saved), current ? 200 : 201);
  });

  app.openapi(routes.list, async (c) => {
    const { tenantId } = c.get('principal');
    const q = c.req.valid('query');
    const after = decodeCursor(q.cursor, z.tuple([z.string()]));
    const rows = await customersOfTenant(
      c.get('reader'),
      { tenantId, afterId: after?.[0] ?? '', limit: q.limit + 1 },
      { tenantId, route: 'GET /v1/customers' },
    );
    const page = rows.slice(0, q.limit);
    const last = page.at(-1);
    return c.json({ data: page.map(view), nextCursor: rows.length > q.limit && last ? encodeCursor([last.customerId]) : null }, 200);
  });

  app.openapi(routes.get, async (c) => {
    const { tenantId } = c.get('principal');
    const { customerId } = c.req.valid('param');
    const [row] = await customerById(c.get('reader'), { tenantId, customerId }, { tenantId });
    if (!row)
      throw new ApiError(
        404,
        'not_found',
        `customer "${customerId}" has no record; it bills in the tenant default (${config.BILLING_DEFAULT_INTERVAL}, ${config.BILLING_DEFAULT_TIMEZONE})`,
      );
    return c.json(view(row), 200);
  });
  return app;
}
