import type { Logger } from 'pino';
import type { Db } from '../sql/query.js';
import type { Clock } from '../domain/clock.js';
import type { JobWork } from '../jobs/scheduler.js';
import { tenantsWithRules } from '../sql/queries/alerts.js';
import { evaluateTenant, type EvaluationSettings } from './evaluate.js';

/** What the writer reports per stored row. */
export interface StoredRow {
  tenant_id: string;
  customer_id: string;
  metric_name: string;
}

/** How long the set of tenants with rules is trusted before it is read again (a rule change in this process refreshes it at once). */
const RULE_TENANTS_TTL_MS = 5_000;

/**
 * Runs evaluations one at a time: soon after each ingest flush for the
 * customers and metrics it touched (flushes that arrive meanwhile are merged
 * into one batch), and the sweep of every rule (the schedule in jobs/, every
 * minute; it also covers the Kafka path, which has no flush in this process).
 * Several instances may evaluate at once: crossings are written under
 * deterministic ids the engine keeps once (sql/datasets/alerts.ts).
 */
export class AlertEvaluator {
  private pending = new Map<string, { customers: Set<string>; metrics: Set<string> }>();
  private chain: Promise<unknown> = Promise.resolve();
  private batchQueued = false;
  private active = false;
  private ruleTenants: { set: Set<string>; atMs: number } | undefined;

  constructor(
    private readonly db: Db,
    private readonly settings: EvaluationSettings,
    private readonly clock: Clock,
    private readonly logger: Logger,
    /** Called when an evaluation wrote crossings (the dispatcher delivers soon). */
    private readonly onCrossings: () => void = () => {},
  ) {}

  /** Evaluate after flushes from now on (the server starts it with its jobs; tests that do not, see no evaluation). */
  start(): void {
    this.active = true;
  }

  async stop(): Promise<void> {
    this.active = false;
    await this.idle();
  }

  /** Settles when every evaluation asked for so far has run. */
  async idle(): Promise<void> {
    for (let seen: Promise<unknown> | undefined; seen !== this.chain; ) {
      seen = this.chain;
      await seen.catch(() => {});
    }
  }

  /** A rule was created, changed or deleted here: the next flush reads the tenants with rules again. */
  rulesChanged(): void {
    this.ruleTenants = undefined;
  }

  /** The writer's hook: rows just stored (acknowledged). Cheap: it records and schedules, never awaits. */
  touched(rows: readonly StoredRow[]): void {
    if (!this.active) return;
    for (const r of rows) {
      let t = this.pending.get(r.tenant_id);
      if (!t) this.pending.set(r.tenant_id, (t = { customers: new Set(), metrics: new Set() }));
      t.customers.add(r.customer_id);
      t.metrics.add(r.metric_name);
    }
    if (this.batchQueued) return;
    this.batchQueued = true;
    this.enqueue(async () => {
      this.batchQueued = false;
      const batch = this.pending;
      this.pending = new Map();
      const withRules = await this.tenantsWithRules();
      let crossings = 0;
      for (const [tenantId, only] of batch) {
        if (withRules.has(tenantId)) crossings += await evaluateTenant(this.db, tenantId, this.settings, this.clock, only);
      }
      if (crossings > 0) this.onCrossings();
    }).catch((error: unknown) => this.logger.warn({ job: 'alerts.evaluate', err: error instanceof Error ? error.message : String(error) }, 'evaluation after a flush failed; the sweep covers it'));
  }

  /** Evaluate every rule of every tenant (or of one). */
  sweep(tenantId?: string): Promise<JobWork> {
    return this.enqueue(async () => {
      const tenants = tenantId ? [tenantId] : [...(await this.tenantsWithRules(true))];
      let crossings = 0;
      for (const t of tenants) crossings += await evaluateTenant(this.db, t, this.settings, this.clock);
      if (crossings > 0) this.onCrossings();
      return crossings > 0 ? { crossings } : undefined;
    });
  }

  private enqueue<T>(run: () => Promise<T>): Promise<T> {
    const next = this.chain.catch(() => {}).then(run);
    this.chain = next;
    return next;
  }

  private async tenantsWithRules(fresh = false): Promise<Set<string>> {
    const now = Date.now();
    if (fresh || !this.ruleTenants || now - this.ruleTenants.atMs > RULE_TENANTS_TTL_MS) {
      const rows = await tenantsWithRules(this.db, {}, { job: 'alerts.evaluate' });
      this.ruleTenants = { set: new Set(rows.map((r) => r.tenantId)), atMs: now };
    }
    return this.ruleTenants.set;
  }
}
