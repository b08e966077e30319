// z from @hono/zod-openapi: these schemas are also the API's request bodies (.openapi descriptions).
import { z } from '@hono/zod-openapi';
import { parseDecimal } from '../ingest/decimal.js';
import { NO_CONTROL_CHARS } from '../sql/control-chars.js';
import { ALERT_DIRECTIONS, ALERT_UNITS, ALERT_WINDOWS } from '../sql/queries/alerts.js';

/** Thresholds per rule, at most (Stripe allows 25 alerts per meter and customer). */
export const MAX_THRESHOLDS = 25;
/** Live rules per tenant, at most: each sweep evaluates every one. */
export const MAX_RULES_PER_TENANT = 1000;

/**
 * A non-negative decimal spelled canonically ("80", "0.5"; not "080", "0.50",
 * "1e3"): thresholds are stored exactly as sent and are part of a crossing's
 * id, so two spellings of one number are refused rather than silently merged.
 */
export const canonicalDecimal = z
  .string()
  .max(48)
  .superRefine((s, ctx) => {
    const parsed = parseDecimal(s);
    if (!parsed.ok) ctx.addIssue({ code: 'custom', message: parsed.message });
    else if (parsed.value.startsWith('-')) ctx.addIssue({ code: 'custom', message: 'must not be negative' });
    else if (parsed.value !== s) ctx.addIssue({ code: 'custom', message: `must be written canonically: "${parsed.value}"` });
  });

const positiveDecimal = canonicalDecimal.refine((s) => s !== '0', 'must be greater than 0');

const ruleFields = {
  meterKey: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, 'must be a meter key'),
  customerId: z
    .string()
    .min(1)
    .max(256)
    .regex(NO_CONTROL_CHARS, 'must not contain control characters')
    .optional()
    .openapi({ description: 'One customer; omitted: every customer of the tenant' }),
  thresholds: z
    .array(canonicalDecimal)
    .max(MAX_THRESHOLDS)
    .refine((t) => new Set(t).size === t.length, 'must not repeat a threshold')
    .openapi({
      description: 'One-time thresholds (absolute values, or percentages of the customer\'s allowance with unit "percent")',
      example: ['100', '1000'],
    }),
  unit: z
    .enum(ALERT_UNITS)
    .openapi({ description: '`percent`: thresholds and `every` are percentages of the allowance on the customer record (PUT /v1/customers/{id} allowances)' }),
  window: z.enum(ALERT_WINDOWS).openapi({ description: "`period`: the customer's billing period to date, re-armed each period; `lifetime`: all time" }),
  every: positiveDecimal.optional().openapi({ description: 'A recurring step: fires at every, 2*every, ... (rising only)' }),
  direction: z.enum(ALERT_DIRECTIONS).openapi({ description: '`falling`: fires when a value that had reached a threshold drops below it (corrections)' }),
  rearm: z.boolean().openapi({ description: 'Fire again in the same period after the value left the threshold and came back (default false)' }),
};

function checkRule(r: { thresholds?: string[] | undefined; every?: string | undefined; direction?: string | undefined }, ctx: z.RefinementCtx): void {
  if ((r.thresholds?.length ?? 0) === 0 && !r.every)
    ctx.addIssue({ code: 'custom', path: ['thresholds'], message: 'needs at least one threshold, or `every`' });
  if (r.every && r.direction === 'falling') ctx.addIssue({ code: 'custom', path: ['every'], message: 'a recurring step applies to rising rules only' });
}

export const ruleInput = z
  .strictObject({
    ...ruleFields,
    thresholds: ruleFields.thresholds.default([]),
    unit: ruleFields.unit.default('absolute'),
    direction: ruleFields.direction.default('rising'),
    rearm: ruleFields.rearm.default(false),
  })
  .superRefine(checkRule)
  .openapi('AlertRuleInput');

/** A change: the fields given replace the rule's; meterKey and customerId (what the rule watches) stay. */
export const rulePatch = z
  .strictObject({
    thresholds: ruleFields.thresholds.optional(),
    unit: ruleFields.unit.optional(),
    window: ruleFields.window.optional(),
    every: positiveDecimal.nullable().optional().openapi({ description: 'null removes the recurring step' }),
    direction: ruleFields.direction.optional(),
    rearm: ruleFields.rearm.optional(),
  })
  .openapi('AlertRulePatch');

/** A rule after a patch must still be a rule. */
export function validRule(r: { thresholds: string[]; every: string; direction: string }): string | undefined {
  if (r.thresholds.length === 0 && !r.every) return 'thresholds: needs at least one threshold, or `every`';
  if (r.every && r.direction === 'falling') return 'every: a recurring step applies to rising rules only';
  return undefined;
}
