import { createHash } from 'node:crypto';
import type { Db, QueryTags } from '../sql/query.js';
import type { Clock } from '../domain/clock.js';
import { listMeters, type Meter } from '../sql/queries/meters.js';
import { customersByIds, type CustomerRecord } from '../sql/queries/customers.js';
import { meterValuesAsOf, type PeriodRef } from '../sql/queries/billing-usage.js';
import { alertRules, alertState, customersWithEvents, insertAlertEvent, insertAlertMark, type AlertRule } from '../sql/queries/alerts.js';
import { LONGEST_PERIOD_MS, overlappingPeriodsMemo, type BillingCycle } from '../jobs/billing/periods.js';
import { MAX_RULES_PER_TENANT } from './rules.js';
import { absoluteOf, step, stepsReached, threshold, type Threshold, type ThresholdState } from './thresholds.js';

export interface EvaluationSettings {
  /** A period is evaluated until it closes (periodEnd + grace): late events within the grace still count. */
  graceMs: number;
  /** The cycle of a customer without a record. */
  defaultCycle: BillingCycle;
}

/** What an ingest flush touched, per tenant: only these customers and metrics are looked at. */
export interface TouchedSet {
  customers: ReadonlySet<string>;
  metrics: ReadonlySet<string>;
}

// Every stored row: values are "as of now", from the append-only log (a cutoff past any stored_at).
export const EVERY_STORED_ROW_MS = Date.UTC(2100, 0, 1);
const CUSTOMERS_PER_QUERY = 500;
/** The period of a lifetime rule: all of event time. */
export const LIFETIME: Omit<PeriodRef, 'customerId'> = { startMs: 0, endMs: EVERY_STORED_ROW_MS };

/** A crossing's id: the same (tenant, rule, customer, period, threshold, arm) always gives the same id, on any instance. */
export function crossingId(tenantId: string, ruleId: string, customerId: string, periodStartMs: number, thresholdKey: string, arm: number): string {
  return `alev_${createHash('sha256')
    .update(JSON.stringify([tenantId, ruleId, customerId, periodStartMs, thresholdKey, arm]))
    .digest('hex')
    .slice(0, 32)}`;
}

const stateKey = (customerId: string, startMs: number, key: string) => JSON.stringify([customerId, startMs, key]);

/**
 * Evaluates a tenant's rules on exact values: each meter's value per customer
 * and period comes from meterValuesAsOf, the billing close's own query over the
 * append-only event log (deduplicated per event id, latest version, voids left
 * out), never from a rollup that a duplicate could have inflated before
 * reconciliation. A crossing is written to the outbox under its deterministic id
 * (sql/datasets/alerts.ts says why it is written once).
 */
export async function evaluateTenant(db: Db, tenantId: string, s: EvaluationSettings, clock: Clock, only?: TouchedSet): Promise<number> {
  const tags: QueryTags = { job: 'alerts.evaluate', tenantId };
  const rules = await alertRules(db, { tenantId, limit: MAX_RULES_PER_TENANT }, tags);
  if (rules.length === 0) return 0;
  const meters = new Map((await listMeters(db, tenantId)).map((m) => [m.key, m]));
  let fired = 0;
  for (const rule of rules) {
    const meter = meters.get(rule.meterKey);
    // A rule on a deleted meter waits until a meter of that key exists again.
    if (!meter || (only && !only.metrics.has(meter.metricName))) continue;
    if (only && rule.customerId && !only.customers.has(rule.customerId)) continue;
    fired += await evaluateRule(db, tenantId, rule, meter, s, clock.now(), only, tags);
  }
  return fired;
}

/** A flush names its customers; the sweep asks the log which customers a tenant-wide rule has to look at. */
async function customersOf(
  db: Db,
  tenantId: string,
  rule: AlertRule,
  meter: Meter,
  fromMs: number,
  only: TouchedSet | undefined,
  tags: QueryTags,
): Promise<string[]> {
  if (rule.customerId) return [rule.customerId];
  if (only) return [...only.customers];
  return (await customersWithEvents(db, { tenantId, metrics: [meter.metricName], fromMs, customers: [] }, tags)).map((c) => c.customerId);
}

async function evaluateRule(
  db: Db,
  tenantId: string,
  rule: AlertRule,
  meter: Meter,
  s: EvaluationSettings,
  nowMs: number,
  only: TouchedSet | undefined,
  tags: QueryTags,
): Promise<number> {
  const fromMs = rule.window === 'lifetime' ? 0 : nowMs - s.graceMs - LONGEST_PERIOD_MS;
  const ids = await customersOf(db, tenantId, rule, meter, fromMs, only, tags);
  let fired = 0;
  const overlapping = overlappingPeriodsMemo();
  for (let i = 0; i < ids.length; i += CUSTOMERS_PER_QUERY) {
    const chunk = ids.slice(i, i + CUSTOMERS_PER_QUERY);
    const records = new Map((await customersByIds(db, { tenantId, ids: chunk }, tags)).map((c) => [c.customerId, c]));
    const periods: PeriodRef[] = chunk.flatMap((customerId) =>
      openPeriods(rule, records.get(customerId), s, nowMs, overlapping).map((p) => ({ customerId, ...p })),
    );
    const values = new Map(
      (await meterValuesAsOf(db, { tenantId, cutoffMs: EVERY_STORED_ROW_MS, meter, periods }, tags)).map((v) => [`${v.customerId}/${v.startMs}`, v.value]),
    );
    const state = await stateOf(db, tenantId, rule, chunk, periods, tags);
    for (const p of periods) {
      const allowance = records.get(p.customerId)?.allowances[rule.meterKey];
      // A percentage needs the customer's allowance: without one the rule has nothing to compare with.
      if (rule.unit === 'percent' && allowance === undefined) continue;
      const value = values.get(`${p.customerId}/${p.startMs}`) ?? '0';
      fired += await apply(db, tenantId, rule, p, value, thresholdsFor(rule, value, allowance, p, state), state, nowMs, tags);
    }
  }
  return fired;
}

/** The periods a rule still watches: lifetime, or each billing period not yet closed (end + grace after now). */
function openPeriods(
  rule: AlertRule,
  customer: CustomerRecord | undefined,
  s: EvaluationSettings,
  nowMs: number,
  overlapping: ReturnType<typeof overlappingPeriodsMemo>,
): readonly Omit<PeriodRef, 'customerId'>[] {
  if (rule.window === 'lifetime') return [LIFETIME];
  const cycle = customer ? { timezone: customer.timezone, interval: customer.interval, anchorDay: customer.anchorDay } : s.defaultCycle;
  return overlapping(nowMs - s.graceMs, nowMs + 1, cycle);
}

type RuleState = Map<string, { arm: number; fired: Set<number>; primed: Set<number> }>;

async function stateOf(db: Db, tenantId: string, rule: AlertRule, customers: string[], periods: PeriodRef[], tags: QueryTags): Promise<RuleState> {
  const state: RuleState = new Map();
  const rows = await alertState(db, { tenantId, ruleId: rule.id, customers, starts: [...new Set(periods.map((p) => p.startMs))] }, tags);
  for (const r of rows) {
    const key = stateKey(r.customerId, r.periodStartMs, r.threshold);
    const entry = state.get(key) ?? { arm: 0, fired: new Set<number>(), primed: new Set<number>() };
    if (r.kind === 'fired') entry.fired.add(r.arm);
    if (r.kind === 'primed') entry.primed.add(r.arm);
    if (r.kind === 'rearmed') entry.arm = Math.max(entry.arm, r.arm);
    state.set(key, entry);
  }
  return state;
}

/** The rule's thresholds, its recurring steps reached, and any threshold with state (to re-arm); in crossing order. */
function thresholdsFor(rule: AlertRule, value: string, allowance: string | undefined, p: PeriodRef, state: RuleState): Threshold[] {
  const base = rule.unit === 'percent' ? allowance : undefined;
  const all = new Map<string, Threshold>();
  for (const key of rule.thresholds) all.set(key, threshold(key, base));
  if (rule.every && rule.direction === 'rising') for (const t of stepsReached(value, rule.every, base)) all.set(t.key, t);
  const prefix = JSON.stringify([p.customerId, p.startMs]).slice(0, -1);
  for (const key of state.keys()) {
    if (!key.startsWith(`${prefix},`)) continue;
    const k = (JSON.parse(key) as [string, number, string])[2];
    if (!all.has(k)) all.set(k, threshold(k, base));
  }
  const sign = rule.direction === 'rising' ? 1n : -1n;
  // a/b < c/d  <=>  a*d < c*b (denominators are positive)
  return [...all.values()].sort((a, b) => {
    const d = sign * (a.num * b.den - b.num * a.den);
    return d < 0n ? -1 : d > 0n ? 1 : 0;
  });
}

async function apply(
  db: Db,
  tenantId: string,
  rule: AlertRule,
  p: PeriodRef,
  value: string,
  thresholds: Threshold[],
  state: RuleState,
  nowMs: number,
  tags: QueryTags,
): Promise<number> {
  let fired = 0;
  for (const t of thresholds) {
    const s: ThresholdState = state.get(stateKey(p.customerId, p.startMs, t.key)) ?? { arm: 0, fired: new Set(), primed: new Set() };
    for (const action of step(rule.direction, rule.rearm, value, t, s)) {
      if (action.kind === 'fire') {
        const id = crossingId(tenantId, rule.id, p.customerId, p.startMs, t.key, action.arm);
        await insertAlertEvent(
          db,
          tenantId,
          {
            id,
            ruleId: rule.id,
            customerId: p.customerId,
            meterKey: rule.meterKey,
            threshold: t.key,
            thresholdValue: absoluteOf(t),
            direction: rule.direction,
            arm: action.arm,
            value,
            periodStartMs: p.startMs,
            crossedAtMs: nowMs,
          },
          tags,
        );
        fired++;
      } else {
        await insertAlertMark(
          db,
          tenantId,
          { ruleId: rule.id, customerId: p.customerId, periodStartMs: p.startMs, threshold: t.key, arm: action.arm, kind: action.kind },
          tags,
        );
      }
    }
  }
  return fired;
}
