import { describe, expect, it } from 'vitest';
import { absoluteOf, reached, step, stepsReached, threshold, MAX_STEPS_PER_EVALUATION, type ThresholdState } from './thresholds.js';

const state = (arm: number, fired: number[], primed: number[] = []): ThresholdState => ({ arm, fired: new Set(fired), primed: new Set(primed) });

describe('thresholds', () => {
  it("compares exactly, beyond a double's precision", () => {
    expect(reached('9007199254740993.000000001', threshold('9007199254740993.000000001', undefined))).toBe(true);
    expect(reached('9007199254740993', threshold('9007199254740993.000000001', undefined))).toBe(false);
  });

  it('takes percentages of the allowance as exact rationals', () => {
    const third = threshold('33.333333333', '3');
    expect(reached('0.99999999999', third)).toBe(true); // 33.333333333% of 3 = 0.99999999999
    expect(reached('0.999999999', third)).toBe(false);
    expect(absoluteOf(threshold('80', '1000'))).toBe('800');
    expect(absoluteOf(threshold('33.333333333', '1'))).toBe('0.333333334'); // display rounds up; comparison stays exact
  });

  it('lists the recurring steps reached, in order, and caps one evaluation', () => {
    expect(stepsReached('250', '100', undefined).map((t) => t.key)).toEqual(['100', '200']);
    expect(stepsReached('99.999999999', '100', undefined)).toEqual([]);
    expect(stepsReached('150', '50', '200').map((t) => [t.key, absoluteOf(t)])).toEqual([['50', '100']]);
    expect(stepsReached('1000000000', '1', undefined)).toHaveLength(MAX_STEPS_PER_EVALUATION);
    expect(stepsReached('-5', '1', undefined)).toEqual([]);
  });

  it('rising: fires once; a drop does not re-fire unless the rule re-arms', () => {
    const t = threshold('100', undefined);
    expect(step('rising', false, '99', t, state(0, []))).toEqual([]);
    expect(step('rising', false, '100', t, state(0, []))).toEqual([{ kind: 'fire', arm: 0 }]);
    expect(step('rising', false, '50', t, state(0, [0]))).toEqual([]);
    expect(step('rising', true, '50', t, state(0, [0]))).toEqual([{ kind: 'rearmed', arm: 1 }]);
    expect(step('rising', true, '150', t, state(1, [0]))).toEqual([{ kind: 'fire', arm: 1 }]);
  });

  it('falling: fires only after the value had reached the threshold', () => {
    const t = threshold('100', undefined);
    expect(step('falling', false, '50', t, state(0, []))).toEqual([]);
    expect(step('falling', false, '120', t, state(0, []))).toEqual([{ kind: 'primed', arm: 0 }]);
    expect(step('falling', false, '120', t, state(0, [], [0]))).toEqual([]);
    expect(step('falling', false, '99', t, state(0, [], [0]))).toEqual([{ kind: 'fire', arm: 0 }]);
    expect(step('falling', false, '120', t, state(0, [0], [0]))).toEqual([]);
    expect(step('falling', true, '120', t, state(0, [0], [0]))).toEqual([
      { kind: 'rearmed', arm: 1 },
      { kind: 'primed', arm: 1 },
    ]);
  });
});
