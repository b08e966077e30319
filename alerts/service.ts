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
 * Runs evaluations one at a time per tenant (tenants side by side, so one
 * tenant's large flush never holds back another's crossing): soon after each
 * ingest flush for the customers and metrics it touched (flushes that arrive
 * meanwhile are merged into one batch), and the sweep of every rule (the
 * schedule in jobs/, every minute; it also covers the Kafka path, which has no
 * flush in this process). Several instances may evaluate at once: crossings are
 * written under deterministic ids the engine keeps once (sql/datasets/alerts.ts).
 */
export class AlertEvaluator {
  /** Per tenant: what flushes touched since its last evaluation started. */
  private pending = new Map<string, { customers: Set<string>; metrics: Set<string> }>();
  private chains = new Map<string, Promise<void>>();
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
    while (this.chains.size > 0) await Promise.all(this.chains.values());
  }

  /** A rule was created, changed or deleted here: the next flush reads the tenants with rules again. */
  rulesChanged(): void {
    this.ruleTenants = undefined;
  }

  /** The writer's hook: rows just stored (acknowledged). Cheap: it records and schedules, never awaits. */
  touched(rows: readonly StoredRow[]): void {
    if (!this.active) return;
    const fresh: string[] = [];
    for (const r of rows) {
      let t = this.pending.get(r.tenant_id);
      if (!t) {
        this.pending.set(r.tenant_id, (t = { customers: new Set(), metrics: new Set() }));
        fresh.push(r.tenant_id);
      }
      t.customers.add(r.customer_id);
      t.metrics.add(r.metric_name);
    }
    // A tenant already pending has its evaluation queued: these rows join that batch.
    for (const tenantId of fresh) {
      this.enqueue(tenantId, async () => {
        const only = this.pending.get(tenantId)!;
        this.pending.delete(tenantId);
        if (!(await this.tenantsWithRules()).has(tenantId)) return;
        if ((await evaluateTenant(this.db, tenantId, this.settings, this.clock, only)) > 0) this.onCrossings();
      }).catch((error: unknown) =>
        this.logger.warn(
          { job: 'alerts.evaluate', tenantId, err: error instanceof Error ? error.message : String(error) },
          'evaluation after a flush failed; the sweep covers it',
        ),
      );
    }
  }

  /** Evaluate every rule of every tenant (or of one). */
  async sweep(tenantId?: string): Promise<JobWork> {
    const tenants = tenantId ? [tenantId] : [...(await this.tenantsWithRules(true))];
    let crossings = 0;
    await Promise.all(
      tenants.map((t) =>
        this.enqueue(t, async () => {
          const fired = await evaluateTenant(this.db, t, this.settings, this.clock);
          if (fired > 0) this.onCrossings();
          crossings += fired;
        }),
      ),
    );
    return crossings > 0 ? { crossings } : undefined;
  }

  private enqueue<T>(tenantId: string, run: () => Promise<T>): Promise<T> {
    const next = (this.chains.get(tenantId) ?? Promise.resolve()).then(run);
    // The tail never rejects (the caller handles `next`), and the last one out removes the tenant's entry.
    const tail: Promise<void> = next
      .then(
        () => {},
        () => {},
      )
      .then(() => {
        if (this.chains.get(tenantId) === tail) this.chains.delete(tenantId);
      });
    this.chains.set(tenantId, tail);
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
