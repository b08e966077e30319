/**
 * The cross-system reconciliation of one tenant (GET /v1/reconciliation): per
 * UTC day and metric, what arrived by each path, what is stored once, what
 * the rollups and the exports hold, and every difference between them with
 * where an operator looks next. The counts come from sql/queries/reconciliation.ts;
 * what counts as a difference is decided here.
 */

export interface DayCounts {
  day: string;
  metricName: string;
  receivedApi: number;
  receivedKafka: number;
  /** Rows logged before migration 20 recorded the path. */
  receivedUnknown: number;
  duplicatesCollapsed: number;
  corrections: number;
  stored: number;
  deadLettered: number;
  deadLetteredPending: number;
  inRollups: number;
  covered: number;
  inExports: number;
}

export interface Difference {
  check: 'rollups' | 'exports' | 'dead_letters';
  expected: number;
  actual: number;
  where: string;
}

export interface ReconciliationDay {
  day: string;
  metricName: string;
  /** unknown: stored before the path was recorded (upgrades from before migration 20). */
  received: { api: number; kafka: number; unknown: number };
  duplicatesCollapsed: number;
  corrections: number;
  stored: number;
  deadLettered: number;
  /** null: the day rollup of this day has expired (ROLLUP_DAY_RETENTION_DAYS), so it is not compared. */
  inRollups: number | null;
  /** Stored events in a period an export closed (for their customer and a meter of their metric), and of those the ones an export counts. */
  exports: { inClosedPeriods: number; inExports: number };
  differences: Difference[];
}

const ZERO: Omit<DayCounts, 'day' | 'metricName'> = {
  receivedApi: 0,
  receivedKafka: 0,
  receivedUnknown: 0,
  duplicatesCollapsed: 0,
  corrections: 0,
  stored: 0,
  deadLettered: 0,
  deadLetteredPending: 0,
  inRollups: 0,
  covered: 0,
  inExports: 0,
};

/** Rows of the several reads, joined on (day, metric); a key missing from a read counts zero there. */
export function mergeCounts(...parts: readonly (readonly ({ day: string; metricName: string } & Partial<DayCounts>)[])[]): DayCounts[] {
  const byKey = new Map<string, DayCounts>();
  for (const rows of parts) {
    for (const row of rows) {
      const k = JSON.stringify([row.day, row.metricName]);
      byKey.set(k, { ...ZERO, ...byKey.get(k), ...row });
    }
  }
  return [...byKey.values()].sort((a, b) => a.day.localeCompare(b.day) || a.metricName.localeCompare(b.metricName));
}

/** One day's report, its differences flagged. `rollupsFromDay`: the first day (YYYY-MM-DD) the day rollup still holds. */
export function reconcileDay(c: DayCounts, rollupsFromDay: string | undefined): ReconciliationDay {
  const differences: Difference[] = [];
  const rollupKept = rollupsFromDay === undefined || c.day >= rollupsFromDay;
  if (rollupKept && c.inRollups !== c.stored) {
    differences.push({
      check: 'rollups',
      expected: c.stored,
      actual: c.inRollups,
      where:
        'the day rollup differs from the stored events (duplicates that reached it, or corrections): the rollups.reconcile job (ROLLUP_RECONCILE_CRON) rewrites such windows; check its log lines and meterhouse_reconcile_* on /metrics',
    });
  }
  if (c.covered !== c.inExports) {
    differences.push({
      check: 'exports',
      expected: c.covered,
      actual: c.inExports,
      where:
        "events of a closed period were stored after its export's cutoff: the next close run adds them as adjustment lines (BILLING_CLOSE_CRON, or POST /v1/billing/close); see GET /v1/billing/exports",
    });
  }
  if (c.deadLetteredPending > 0) {
    differences.push({
      check: 'dead_letters',
      expected: 0,
      actual: c.deadLetteredPending,
      where:
        'Kafka messages naming this metric failed validation and count nowhere: GET /v1/dead-letters shows each with its error; POST /v1/dead-letters/replay stores corrected ones',
    });
  }
  return {
    day: c.day,
    metricName: c.metricName,
    received: { api: c.receivedApi, kafka: c.receivedKafka, unknown: c.receivedUnknown },
    duplicatesCollapsed: c.duplicatesCollapsed,
    corrections: c.corrections,
    stored: c.stored,
    deadLettered: c.deadLettered,
    inRollups: rollupKept ? c.inRollups : null,
    exports: { inClosedPeriods: c.covered, inExports: c.inExports },
    differences,
  };
}
