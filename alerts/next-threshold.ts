import { decimal, units } from '../jobs/billing/decimal.js';
import { reached, threshold, type Threshold } from './thresholds.js';

/** What a rule says about its thresholds (enough to find the next one). */
export interface ThresholdSpec {
  thresholds: readonly string[];
  /** '' = no recurring step. */
  every: string;
  direction: 'rising' | 'falling';
  unit: 'absolute' | 'percent';
}

const SCALE = 1_000_000_000n;

/**
 * The lowest threshold of a rising rule that `value` has not reached: one of
 * its one-time thresholds, or its next recurring step (every · (k+1) where k
 * steps are reached). Exact: compared as rationals, as the evaluator does.
 * A falling rule has no "next" to grow toward: undefined.
 */
export function nextThreshold(rule: ThresholdSpec, value: string, allowance: string | undefined): Threshold | undefined {
  if (rule.direction !== 'rising') return undefined;
  const base = rule.unit === 'percent' ? allowance : undefined;
  const candidates = rule.thresholds.map((key) => threshold(key, base)).filter((t) => !reached(value, t));
  if (rule.every) {
    const step = threshold(rule.every, base);
    if (step.num > 0n) {
      const v = units(value) * step.den;
      const k = v < 0n ? 0n : v / step.num;
      candidates.push(threshold(decimal(units(rule.every) * (k + 1n)), base));
    }
  }
  // a/b < c/d  <=>  a*d < c*b (denominators are positive)
  return candidates.reduce<Threshold | undefined>((low, t) => (low === undefined || t.num * low.den < low.num * t.den ? t : low), undefined);
}

/**
 * value / threshold as a decimal string truncated (toward zero) to 9 decimals,
 * computed in integers: never a float, so "0.999999999" is never shown as 1.
 * null for a threshold of 0 (no ratio exists).
 */
export function progressRatio(value: string, t: Threshold): string | null {
  if (t.num === 0n) return null;
  return decimal((units(value) * t.den * SCALE) / t.num);
}
