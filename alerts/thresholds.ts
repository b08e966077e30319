import { decimal, units } from '../jobs/billing/decimal.js';

/**
 * Which thresholds a value has crossed, exactly: values and thresholds are
 * decimal strings compared in integer units of 1e-9 (BigInt), never floats. A
 * percentage threshold is the rational allowance * pct / 100, compared by
 * cross-multiplying, so 33.333333333% of 1 is neither rounded up nor down.
 */
export interface Threshold {
  /** The threshold as the rule states it (canonical decimal; a percentage for percent rules). */
  key: string;
  /** num / den is the absolute threshold, in units of 1e-9. */
  num: bigint;
  den: bigint;
}

const PERCENT_DEN = 100n * 1_000_000_000n;

/** Most recurring steps fired by one evaluation; the next evaluation continues in order from there. */
export const MAX_STEPS_PER_EVALUATION = 1000;

export function threshold(key: string, allowance: string | undefined): Threshold {
  return allowance === undefined ? { key, num: units(key), den: 1n } : { key, num: units(allowance) * units(key), den: PERCENT_DEN };
}

/** value >= threshold */
export function reached(value: string, t: Threshold): boolean {
  return units(value) * t.den >= t.num;
}

/** The absolute threshold, for display: exact when it has at most 9 decimals, else rounded up to the last one. */
export function absoluteOf(t: Threshold): string {
  const q = t.num / t.den;
  return decimal(q * t.den === t.num || t.num < 0n ? q : q + 1n);
}

/** The recurring steps every, 2*every, ... that `value` has reached, in order (at most MAX_STEPS_PER_EVALUATION). */
export function stepsReached(value: string, every: string, allowance: string | undefined): Threshold[] {
  const step = threshold(every, allowance);
  if (step.num <= 0n) return [];
  const v = units(value) * step.den;
  const k = v < 0n ? 0n : v / step.num;
  const n = k > BigInt(MAX_STEPS_PER_EVALUATION) ? MAX_STEPS_PER_EVALUATION : Number(k);
  const stepUnits = units(every);
  return Array.from({ length: n }, (_, i) => threshold(decimal(stepUnits * BigInt(i + 1)), allowance));
}

/** What the evaluator knows of one (rule, customer, period, threshold). */
export interface ThresholdState {
  /** The current arm: 0, plus one for each re-arm. */
  arm: number;
  fired: ReadonlySet<number>;
  primed: ReadonlySet<number>;
}

export type Action = { kind: 'fire'; arm: number } | { kind: 'primed'; arm: number } | { kind: 'rearmed'; arm: number };

/**
 * One step of a threshold's state machine for the value now.
 * Rising: fires when the value reaches the threshold; once fired, it fires
 * again in the same period only if the rule re-arms and the value went back
 * below it first (then a new arm starts).
 * Falling: primed when the value reaches the threshold, fires when a primed
 * threshold's value drops below it; re-arms (and primes again) when the value
 * is back at or above it and the rule re-arms.
 */
export function step(direction: 'rising' | 'falling', rearm: boolean, value: string, t: Threshold, s: ThresholdState): Action[] {
  const above = reached(value, t);
  const { arm } = s;
  if (direction === 'rising') {
    if (!s.fired.has(arm)) return above ? [{ kind: 'fire', arm }] : [];
    return rearm && !above ? [{ kind: 'rearmed', arm: arm + 1 }] : [];
  }
  if (!s.primed.has(arm)) return above ? [{ kind: 'primed', arm }] : [];
  if (!s.fired.has(arm)) return above ? [] : [{ kind: 'fire', arm }];
  return rearm && above
    ? [
        { kind: 'rearmed', arm: arm + 1 },
        { kind: 'primed', arm: arm + 1 },
      ]
    : [];
}
