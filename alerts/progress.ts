import type { Db, QueryTags } from '../sql/query.js';
import { listMeters } from '../sql/queries/meters.js';
import { meterValuesAsOf } from '../sql/queries/billing-usage.js';
import { alertRules, customerCrossings, type AlertRule } from '../sql/queries/alerts.js';
import { periodOf, type BillingCycle } from '../jobs/billing/periods.js';
import { EVERY_STORED_ROW_MS, LIFETIME } from './evaluate.js';
import { MAX_RULES_PER_TENANT } from './rules.js';
import { absoluteOf } from './thresholds.js';
import { nextThreshold, progressRatio } from './next-threshold.js';

/** The newest crossings shown per rule (a recurring step can have fired many times in a window). */
export const CROSSINGS_SHOWN_PER_RULE = 25;

export interface RuleProgress {
  ruleId: string;
  unit: AlertRule['unit'];
  window: AlertRule['window'];
  direction: AlertRule['direction'];
  /** The customer's allowance for the meter (percent rules), else null. */
  allowance: string | null;
  /** The billing period the value is for; null for a lifetime rule. */
  period: { startMs: number; endMs: number } | null;
  value: string;
  crossed: { threshold: string; thresholdValue: string; value: string; crossedAtMs: number }[];
  next: { threshold: string; thresholdValue: string; progress: string | null } | null;
}

export interface MeterProgress {
  meterKey: string;
  rules: RuleProgress[];
}

export interface ProgressQuery {
  tenantId: string;
  customerId: string;
  /** The meters asked about; null: every meter. */
  meterKeys: readonly string[] | null;
  cycle: BillingCycle;
  allowances: Readonly<Record<string, string>>;
  nowMs: number;
}

/**
 * Where one customer stands against the alert rules that apply to it (its own
 * and the tenant-wide ones; never another customer's): per meter with rules,
 * the exact value of each rule's window from the evaluator's own query
 * (meterValuesAsOf over the event log, as of every stored row), the crossings
 * already fired in that window, and the next threshold with value / threshold.
 * A percent rule without an allowance is left out, as the evaluator skips it.
 */
export async function customerAlertProgress(db: Db, q: ProgressQuery, tags: QueryTags): Promise<MeterProgress[]> {
  const applies = (r: AlertRule) =>
    (r.customerId === '' || r.customerId === q.customerId) &&
    (q.meterKeys === null || q.meterKeys.includes(r.meterKey)) &&
    (r.unit === 'absolute' || q.allowances[r.meterKey] !== undefined);
  const rules = (await alertRules(db, { tenantId: q.tenantId, limit: MAX_RULES_PER_TENANT }, tags)).filter(applies);
  if (rules.length === 0) return [];
  const meters = (await listMeters(db, q.tenantId)).filter((m) => rules.some((r) => r.meterKey === m.key));
  const current = periodOf(q.nowMs, q.cycle);
  const windowOf = (r: AlertRule) => (r.window === 'lifetime' ? LIFETIME : current);
  const watched = rules.filter((r) => meters.some((m) => m.key === r.meterKey));
  const crossings =
    watched.length === 0
      ? []
      : await customerCrossings(
          db,
          {
            tenantId: q.tenantId,
            customerId: q.customerId,
            ruleIds: watched.map((r) => r.id),
            starts: watched.map((r) => windowOf(r).startMs),
            perRule: CROSSINGS_SHOWN_PER_RULE,
          },
          tags,
        );
  const answer: MeterProgress[] = [];
  for (const meter of meters) {
    const own = watched.filter((r) => r.meterKey === meter.key);
    const windows = [...new Set(own.map(windowOf))].map((w) => ({ customerId: q.customerId, ...w }));
    const values = new Map(
      (await meterValuesAsOf(db, { tenantId: q.tenantId, cutoffMs: EVERY_STORED_ROW_MS, meter, periods: windows }, tags)).map((v) => [v.startMs, v.value]),
    );
    answer.push({
      meterKey: meter.key,
      rules: own.map((r) => {
        const w = windowOf(r);
        const value = values.get(w.startMs) ?? '0';
        const allowance = r.unit === 'percent' ? q.allowances[r.meterKey]! : null;
        const next = nextThreshold(r, value, allowance ?? undefined);
        return {
          ruleId: r.id,
          unit: r.unit,
          window: r.window,
          direction: r.direction,
          allowance,
          period: r.window === 'lifetime' ? null : { startMs: w.startMs, endMs: w.endMs },
          value,
          // Oldest first (the query takes the newest few).
          crossed: crossings
            .filter((c) => c.ruleId === r.id)
            .reverse()
            .map((c) => ({ threshold: c.threshold, thresholdValue: c.thresholdValue, value: c.value, crossedAtMs: c.crossedAtMs })),
          next: next ? { threshold: next.key, thresholdValue: absoluteOf(next), progress: progressRatio(value, next) } : null,
        };
      }),
    });
  }
  return answer;
}
