import { describe, expect, it } from 'vitest';
import { mergeCounts, reconcileDay } from './reconciliation.js';

describe('reconciliation report', () => {
  const [counts] = mergeCounts(
    [{ day: '2026-11-02', metricName: 'm', receivedApi: 3, receivedKafka: 2, duplicatesCollapsed: 1 }],
    [{ day: '2026-11-02', metricName: 'm', stored: 4 }],
    [{ day: '2026-11-02', metricName: 'm', inRollups: 4 }],
  );

  it('joins the reads on day and metric, a missing read counting zero, and flags nothing when all agree', () => {
    const day = reconcileDay(counts!, undefined);
    expect(day).toMatchObject({
      received: { api: 3, kafka: 2, unknown: 0 },
      duplicatesCollapsed: 1,
      stored: 4,
      inRollups: 4,
      deadLettered: 0,
      exports: { inClosedPeriods: 0, inExports: 0 },
    });
    expect(day.differences).toEqual([]);
  });

  it('flags a rollup, an export and pending dead letters that disagree, each with where to look', () => {
    const day = reconcileDay({ ...counts!, inRollups: 5, covered: 4, inExports: 3, deadLetteredPending: 2 }, undefined);
    expect(day.differences.map((d) => [d.check, d.expected, d.actual])).toEqual([
      ['rollups', 4, 5],
      ['exports', 4, 3],
      ['dead_letters', 0, 2],
    ]);
    for (const d of day.differences) expect(d.where).toMatch(/GET \/v1\/|job/);
  });

  it('does not compare a day whose rollup has expired', () => {
    const day = reconcileDay({ ...counts!, inRollups: 0 }, '2026-11-03');
    expect(day.inRollups).toBeNull();
    expect(day.differences).toEqual([]);
  });
});
