import { createHmac } from 'node:crypto';
import type { Logger } from 'pino';
import type { Db } from '../../sql/query.js';
import { recordDelivery, undelivered, type ExportManifest } from '../../sql/queries/exports.js';
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

export const DEFAULT_TENANT = 'default';

export const signature = (secret: string, body: string) => `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;

/**
 * Delivers each new export to its tenant's endpoint (PUT /v1/webhooks; for
 * tenant `default`, BILLING_WEBHOOK_URL unless it set one) from the outbox (exports
 * without an acknowledgement), per tenant in sequence order: export n+1 waits
 * until n is acknowledged (any 2xx). A failure is retried after
 * backoffMs * 2^(attempt-1), at most backoffMaxMs. The body is signed:
 * X-Meterhouse-Signature: sha256=<hex HMAC-SHA256 of the body>.
 * At least once: a crash between a 2xx and its record, or two instances
 * polling one outbox, can deliver an export again; receivers dedupe on
 * (tenantId, sequence).
 */
export class WebhookDispatcher {
  private retry = new Map<string, { attempts: number; nextAtMs: number }>();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = false;

  constructor(
    private readonly db: Db,
    private readonly o: WebhookOptions,
    private readonly logger: Logger,
  ) {}

  start(): void {
    this.stopped = false;
    this.schedule(0);
  }

  /** Deliver soon (a close run wrote an export). */
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
        .catch((error) => this.logger.error({ job: 'billing.webhooks', err: error instanceof Error ? error.message : String(error) }, 'outbox read failed'))
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
    const own = new Map((await tenantWebhooks(this.db, {}, { job: 'billing.webhooks' })).map(({ tenantId, ...e }) => [tenantId, e]));
    if (this.o.defaultEndpoint && !own.has(DEFAULT_TENANT)) own.set(DEFAULT_TENANT, this.o.defaultEndpoint);
    return own;
  }

  private async tick(): Promise<void> {
    const blocked = new Set<string>();
    const endpoints = await this.endpoints();
    if (endpoints.size === 0) return;
    // Exports of tenants without an endpoint stay in the outbox, delivered once one is set.
    for (const { tenantId, ...e } of await undelivered(this.db, { tenants: [...endpoints.keys()], limit: 1000 }, { job: 'billing.webhooks' })) {
      if (this.stopped) return;
      if (blocked.has(tenantId)) continue;
      const state = this.retry.get(tenantId);
      if (state && state.nextAtMs > Date.now()) {
        blocked.add(tenantId);
        continue;
      }
      const attempts = (state?.attempts ?? 0) + 1;
      if (await this.post(endpoints.get(tenantId)!, tenantId, e, attempts)) {
        await recordDelivery(this.db, tenantId, e.sequence, attempts);
        this.retry.delete(tenantId);
        this.logger.info({ job: 'billing.webhooks', tenantId, sequence: e.sequence, attempts }, 'webhook delivered');
      } else {
        const delay = Math.min(this.o.backoffMaxMs, this.o.backoffMs * 2 ** (attempts - 1));
        this.retry.set(tenantId, { attempts, nextAtMs: Date.now() + delay });
        blocked.add(tenantId);
        this.o.onFailure?.();
      }
    }
  }

  private async post(endpoint: WebhookEndpoint, tenantId: string, m: ExportManifest, attempt: number): Promise<boolean> {
    const body = JSON.stringify({ type: 'billing.export.created', tenantId, export: m });
    try {
      const res = await fetch(endpoint.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-meterhouse-signature': signature(endpoint.secret, body), 'x-meterhouse-delivery': `${tenantId}/${m.sequence}` },
        body,
        signal: AbortSignal.timeout(this.o.timeoutMs),
      });
      await res.body?.cancel();
      if (res.ok) return true;
      this.logger.warn({ job: 'billing.webhooks', tenantId, sequence: m.sequence, attempt, status: res.status }, 'webhook not acknowledged; retrying with backoff');
    } catch (error) {
      this.logger.warn({ job: 'billing.webhooks', tenantId, sequence: m.sequence, attempt, err: error instanceof Error ? error.name : 'error' }, 'webhook delivery failed; retrying with backoff');
    }
    return false;
  }
}
