import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { Job } from '../../jobs/scheduler.js';
import type { ReconcileResult } from '../../jobs/reconcile-rollups.js';
import type { CloseRunResult } from '../../jobs/billing/close.js';
import type { TenantLabels } from './tenant-labels.js';

/**
 * What the scheduled jobs did, observed from outside them: each job's run is
 * wrapped (duration, outcome, last success), and the reconciliation and close
 * results are counted as they come back. Label values are job names and
 * outcomes (fixed sets) and, on the operator-only registry, bounded tenants.
 * The job's label is `name`: Prometheus sets `job` itself (the scrape job).
 */
export class JobMetrics {
  private readonly runs: Counter<'name' | 'outcome'>;
  private readonly duration: Histogram<'name'>;
  private readonly lastSuccess: Gauge<'name'>;
  private readonly windows: Counter<'result'>;
  private readonly tierWindows: Counter<'tier'>;
  private readonly difference: Counter;
  private readonly exportsWritten: Counter;
  private readonly closedTenant: Gauge<'tenant'>;
  readonly uploadFailures: Counter;
  readonly webhookFailures: Counter;

  constructor(
    registry: Registry,
    tenantRegistry: Registry,
    private readonly tenants: TenantLabels,
  ) {
    const registers = [registry];
    this.runs = new Counter({
      name: 'meterhouse_job_runs_total',
      help: 'Scheduled job runs by outcome (ok, failed)',
      labelNames: ['name', 'outcome'] as const,
      registers,
    });
    this.duration = new Histogram({
      name: 'meterhouse_job_duration_seconds',
      help: 'Duration of scheduled job runs',
      labelNames: ['name'] as const,
      buckets: [0.05, 0.25, 1, 5, 15, 60, 300, 900],
      registers,
    });
    this.lastSuccess = new Gauge({
      name: 'meterhouse_job_last_success_timestamp_seconds',
      help: 'When each job last finished without error',
      labelNames: ['name'] as const,
      registers,
    });
    this.windows = new Counter({
      name: 'meterhouse_reconcile_windows_total',
      help: 'Rollup windows (hour x tenant x metric) the reconciliation checked, and those it rewrote because they differed from the raw events',
      labelNames: ['result'] as const,
      registers,
    });
    this.tierWindows = new Counter({
      name: 'meterhouse_reconcile_tier_windows_rewritten_total',
      help: 'Minute-tier hours and day-tier days the reconciliation rewrote because they differed from the exact hour tier (a rewrite that raced an insert), or, for days, kept no quantities (written before migration 23)',
      labelNames: ['tier'] as const,
      registers,
    });
    this.difference = new Counter({
      name: 'meterhouse_reconcile_events_difference_total',
      help: 'Events the rewritten rollup windows counted differently from the deduplicated raw events (duplicates that reached a rollup, corrections)',
      registers,
    });
    this.exportsWritten = new Counter({ name: 'meterhouse_close_exports_written_total', help: 'Billing exports written by close runs', registers });
    this.closedTenant = new Gauge({
      name: 'meterhouse_close_last_success_timestamp_seconds',
      help: 'When a close run last finished for the tenant (bounded tenant label)',
      labelNames: ['tenant'] as const,
      registers: [tenantRegistry],
    });
    this.uploadFailures = new Counter({
      name: 'meterhouse_export_upload_failures_total',
      help: 'Export uploads to S3 that failed (retried by the next close run)',
      registers,
    });
    this.webhookFailures = new Counter({
      name: 'meterhouse_webhook_failures_total',
      help: 'Webhook delivery attempts not acknowledged (retried with backoff)',
      registers,
    });
    for (const result of ['checked', 'rewritten']) this.windows.inc({ result }, 0);
    for (const tier of ['minute', 'day']) this.tierWindows.inc({ tier }, 0);
    this.exportsWritten.inc(0);
    this.uploadFailures.inc(0);
    this.webhookFailures.inc(0);
  }

  /** The job with its runs timed and counted; a failure is counted and passed on (the scheduler logs it). */
  instrument(job: Job): Job {
    for (const outcome of ['ok', 'failed']) this.runs.inc({ name: job.name, outcome }, 0);
    return {
      ...job,
      run: async () => {
        const end = this.duration.startTimer({ name: job.name });
        try {
          const work = await job.run();
          this.runs.inc({ name: job.name, outcome: 'ok' });
          this.lastSuccess.set({ name: job.name }, Date.now() / 1000);
          return work;
        } catch (error) {
          this.runs.inc({ name: job.name, outcome: 'failed' });
          throw error;
        } finally {
          end();
        }
      },
    };
  }

  reconciled(r: ReconcileResult): ReconcileResult {
    this.windows.inc({ result: 'checked' }, r.checked);
    this.windows.inc({ result: 'rewritten' }, r.rewritten);
    this.tierWindows.inc({ tier: 'minute' }, r.minuteHoursRewritten);
    this.tierWindows.inc({ tier: 'day' }, r.daysRewritten);
    this.difference.inc(r.eventsDifference);
    return r;
  }

  closed(r: CloseRunResult): CloseRunResult {
    this.exportsWritten.inc(r.exports.length);
    return r;
  }

  tenantClosed(tenantId: string): void {
    this.closedTenant.set({ tenant: this.tenants.of(tenantId) }, Date.now() / 1000);
  }
}
