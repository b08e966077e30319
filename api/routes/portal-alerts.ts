import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import type { AppDeps, AppEnv } from '../context.js';
import { defaultCycle } from '../config.js';
import { needs } from '../route-scopes.js';
import { jsonOf } from '../params.js';
import { linkScope } from '../../access/scopes.js';
import { cycleOf } from '../../jobs/billing/customer-periods.js';
import { customerAlertProgress, CROSSINGS_SHOWN_PER_RULE } from '../../alerts/progress.js';

const exact = (description: string) => z.string().openapi({ description });
const ruleProgress = z.object({
  ruleId: z.string(),
  unit: z.enum(['absolute', 'percent']).openapi({ description: '`percent`: thresholds are percentages of `allowance`' }),
  window: z.enum(['period', 'lifetime']),
  direction: z.enum(['rising', 'falling']),
  allowance: z.string().nullable().openapi({ description: "The customer's allowance for the meter (percent rules), else null" }),
  period: z.object({ start: z.string(), end: z.string() }).nullable().openapi({ description: 'The billing period the value is for; null for a lifetime rule' }),
  value: exact('The exact value the alert evaluator compares (exact decimal string)'),
  crossed: z
    .array(z.object({ threshold: z.string(), thresholdValue: z.string(), value: z.string(), crossedAt: z.string() }))
    .openapi({ description: `Crossings already fired in this window, oldest first (the newest ${CROSSINGS_SHOWN_PER_RULE})` }),
  next: z
    .object({
      threshold: exact('As the rule states it (a percentage for percent rules)'),
      thresholdValue: exact('The absolute value (rounded up to 9 decimals when a percentage has more)'),
      progress: z
        .string()
        .nullable()
        .openapi({ description: 'value / threshold as a decimal string truncated to 9 decimals (never a float); null for a threshold of 0' }),
    })
    .nullable()
    .openapi({ description: 'The lowest threshold not reached yet (rising rules); null when none is left' }),
});

const route = createRoute({
  method: 'get',
  path: '/v1/portal/alerts',
  summary:
    'Per meter of the link, the alert rules that apply to its customer (its own and tenant-wide), the exact value, thresholds crossed in the window and progress toward the next one',
  security: needs(linkScope('portal')),
  responses: {
    200: {
      description: 'Only meters that have rules for this customer',
      content: jsonOf(
        z.object({ data: z.array(z.object({ meterKey: z.string(), rules: z.array(ruleProgress) })), refreshedAt: z.string() }).openapi('PortalAlerts'),
      ),
    },
  },
});

const iso = (ms: number) => new Date(ms).toISOString();

/** Alert progress on the customer dashboard (docs/portal.md "Alerts"): the link fixes tenant, customer and meters. */
export function portalAlertRoutes(deps: AppDeps) {
  const { config, clock } = deps;
  const app = new OpenAPIHono<AppEnv>();
  app.openapi(route, async (c) => {
    const readAt = clock.now();
    const { tenantId, customerId, meters } = c.get('link');
    const reader = c.get('reader');
    const tags = { route: 'GET /v1/portal/alerts', tenantId, requestId: c.get('requestId') };
    const record = await deps.customers.get({ tenantId, customerId });
    const cycle = cycleOf(record, defaultCycle(config));
    const progress = await customerAlertProgress(
      reader,
      { tenantId, customerId, meterKeys: meters, cycle, allowances: record?.allowances ?? {}, nowMs: readAt },
      tags,
    );
    return c.json(
      {
        data: progress.map((m) => ({
          meterKey: m.meterKey,
          rules: m.rules.map(({ period, crossed, ...r }) => ({
            ...r,
            period: period && { start: iso(period.startMs), end: iso(period.endMs) },
            crossed: crossed.map(({ crossedAtMs, ...x }) => ({ ...x, crossedAt: iso(crossedAtMs) })),
          })),
        })),
        refreshedAt: iso(readAt),
      },
      200,
    );
  });
  return app;
}
