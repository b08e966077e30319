import { createHmac } from 'node:crypto';
import type { Logger } from 'pino';
import type { Db } from '../../sql/query.js';
import { tenantWebhooks } from '../../sql/queries/webhooks.js';

export interface WebhookEndpoint {
  url: string;
  /** HMAC-SHA256 key; never logged. */
  secret: string;
}

export interface WebhookOptions {
  /** BILLING_WEBHOOK_URL and _SECRET: tenant `default`'s endpoint unless it set its own through the API. */
  defaultEndpoint?: WebhookEndpoint | undefined;
  pollMs: number;
  backoffMs: number;
  backoffMaxMs: number;
  timeoutMs: number;
  /** A delivery attempt that was not acknowledged (counted on /metrics). */
  onFailure?: () => void;
}

/** What one dispatcher delivers: items without an acknowledgement, oldest first per tenant. */
export interface Outbox<T> {
  /** The job name in logs and query tags. */
  job: string;
  pending(db: Db, tenants: string[]): Promise<(T & { tenantId: string })[]>;
  body(tenantId: string, item: T): string;
  /** X-Meterhouse-Delivery: stable across attempts and instances, for the receiver to dedupe on. */
  deliveryId(tenantId: string, item: T): string;
  delivered(db: Db, tenantId: string, item: T, attempts: number): Promise<void>;
  /** Ids (never bodies or secrets) to name the item in the delivery log line. */
  logFields?(item: T): Record<string, unknown>;
}

export const DEFAULT_TENANT = 'default';

export const signature = (secret: string, body: string) => `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;

/**
 * Delivers an outbox to each tenant's endpoint (PUT /v1/webhooks; for tenant
 * `default`, BILLING_WEBHOOK_URL unless it set one), per tenant in outbox
 * order: item n+1 waits until n is acknowledged (any 2xx). A failure is
 * retried after backoffMs * 2^(attempt-1), at most backoffMaxMs. The body is
 * signed: X-Meterhouse-Signature: sha256=<hex HMAC-SHA256 of the body>.
 * At least once: a crash between a 2xx and its record, or two instances
 * polling one outbox, can deliver an item again; receivers dedupe on
 * X-Meterhouse-Delivery.
 */
export class OutboxDispatcher<T> {
  private retry = new Map<string, { attempts: number; nextAtMs: number }>();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = false;

  constructor(
    private readonly db: Db,
    private readonly outbox: Outbox<T>,
    private readonly o: WebhookOptions,
    private readonly logger: Logger,
  ) {}

  start(): void {
    this.stopped = false;
    this.schedule(0);
  }

  /** Deliver soon (something was added to the outbox). */
  kick(): void {
    if (this.running) this.again = true;
    else if (!this.stopped && this.timer) this.schedule(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  private schedule(ms: number): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.running = this.tick()
        .catch((error) => this.logger.error({ job: this.outbox.job, err: error instanceof Error ? error.message : String(error) }, 'outbox read failed'))
        .finally(() => {
          this.running = undefined;
          if (this.stopped) return;
          const wait = this.again ? 0 : this.o.pollMs;
          this.again = false;
          this.schedule(wait);
        });
    }, ms);
  }

  /** Endpoints are read at every tick, so a change through the API applies to the next delivery. */
  private async endpoints(): Promise<Map<string, WebhookEndpoint>> {
    const own = new Map((await tenantWebhooks(this.db, {}, { job: this.outbox.job })).map(({ tenantId, ...e }) => [tenantId, e]));
    if (this.o.defaultEndpoint && !own.has(DEFAULT_TENANT)) own.set(DEFAULT_TENANT, this.o.defaultEndpoint);
    return own;
  }

  private async tick(): Promise<void> {
    const blocked = new Set<string>();
    const endpoints = await this.endpoints();
    if (endpoints.size === 0) return;
    // Items of tenants without an endpoint stay in the outbox, delivered once one is set.
    for (const { tenantId, ...item } of await this.outbox.pending(this.db, [...endpoints.keys()])) {
      if (this.stopped) return;
      if (blocked.has(tenantId)) continue;
      const state = this.retry.get(tenantId);
      if (state && state.nextAtMs > Date.now()) {
        blocked.add(tenantId);
        continue;
      }
      const attempts = (state?.attempts ?? 0) + 1;
      if (await this.post(endpoints.get(tenantId)!, tenantId, item as T, attempts)) {
        await this.outbox.delivered(this.db, tenantId, item as T, attempts);
        this.retry.delete(tenantId);
        this.logger.info({ job: this.outbox.job, tenantId, ...this.outbox.logFields?.(item as T), attempts }, 'webhook delivered');
      } else {
        const delay = Math.min(this.o.backoffMaxMs, this.o.backoffMs * 2 ** (attempts - 1));
        this.retry.set(tenantId, { attempts, nextAtMs: Date.now() + delay });
        blocked.add(tenantId);
        this.o.onFailure?.();
      }
    }
  }

  private async post(endpoint: WebhookEndpoint, tenantId: string, item: T, attempt: number): Promise<boolean> {
    const body = this.outbox.body(tenantId, item);
    const delivery = this.outbox.deliveryId(tenantId, item);
    try {
      const res = await fetch(endpoint.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-meterhouse-signature': signature(endpoint.secret, body), 'x-meterhouse-delivery': delivery },
        body,
        signal: AbortSignal.timeout(this.o.timeoutMs),
      });
      await res.body?.cancel();
      if (res.ok) return true;
      this.logger.warn({ job: this.outbox.job, tenantId, delivery, attempt, status: res.status }, 'webhook not acknowledged; retrying with backoff');
    } catch (error) {
      this.logger.warn(
        { job: this.outbox.job, tenantId, delivery, attempt, err: error instanceof Error ? error.name : 'error' },
        'webhook delivery failed; retrying with backoff',
      );
    }
    return false;
  }
}
