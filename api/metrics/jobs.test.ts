import { describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import { JobMetrics } from './jobs.js';
import { TenantLabels } from './tenant-labels.js';
import { reconcileWork } from '../../jobs/reconcile-rollups.js';

describe('reconciliation metrics', () => {
  it('count the hours and days rewritten, per tier, beside the windows checked against raw events', async () => {
    const registry = new Registry();
    const metrics = new JobMetrics(registry, new Registry(), new TenantLabels(1));
    const result = { sinceMs: 0, rewritten: 0, checked: 5, deferred: 0, eventsDifference: 0, minuteHoursRewritten: 2, daysRewritten: 1, tiersFilled: [] };
    metrics.reconciled(result);
    metrics.reconciled({ ...result, daysRewritten: 3 });
    const text = await registry.metrics();
    expect(text).toContain('meterhouse_reconcile_tier_windows_rewritten_total{tier="minute"} 4');
    expect(text).toContain('meterhouse_reconcile_tier_windows_rewritten_total{tier="day"} 4');
    expect(text).toContain('meterhouse_reconcile_windows_total{result="checked"} 10');
    // A run that rewrote only between tiers did work, and says so in the job's log line.
    expect(reconcileWork(result)).toMatchObject({ windowsRewritten: 0, minuteHoursRewritten: 2, daysRewritten: 1 });
    expect(reconcileWork({ ...result, minuteHoursRewritten: 0, daysRewritten: 0 })).toBeUndefined();
    // A full pass that filled a tier whose retention grew says so, whether or not it rewrote a window.
    expect(reconcileWork({ ...result, minuteHoursRewritten: 0, daysRewritten: 0, tiersFilled: ['minute'] })).toEqual({ tiersFilled: ['minute'], sinceMs: 0 });
  });
});
