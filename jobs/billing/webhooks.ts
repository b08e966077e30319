import { createHmac } from 'node:crypto';
import type { Logger } from 'pino';
import type { Db } from '../../sql/query.js';
import { recordDelivery, undelivered, type ExportManifest } from '../../sql/queries/exports.js';

export interface WebhookOptions {
  url: string;
  /** HMAC-SHA256 key; never logged. */
  secret: string;
  pollMs: number;
  backoffMs: number;
  backoffMaxMs: number;
  timeoutMs: number;
}

export const signature = (secret: string, body: string) => `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;

/**
 * Delivers each new export to BILLING_WEBHOOK_URL from the outbox (exports
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

  private async tick(): Promise<void> {
    const blocked = new Set<string>();
    for (const { tenantId, ...e } of await undelivered(this.db, { limit: 1000 }, { job: 'billing.webhooks' })) {
      if (this.stopped) return;
      if (blocked.has(tenantId)) continue;
      const state = this.retry.get(tenantId);
      if (state && state.nextAtMs > Date.now()) {
        blocked.add(tenantId);
        continue;
      }
      const attempts = (state?.attempts ?? 0) + 1;
      if (await this.post(tenantId, e, attempts)) {
        await recordDelivery(this.db, tenantId, e.sequence, attempts);
        this.retry.delete(tenantId);
      } else {
        const delay = Math.min(this.o.backoffMaxMs, this.o.backoffMs * 2 ** (attempts - 1));
        this.retry.set(tenantId, { attempts, nextAtMs: Date.now() + delay });
        blocked.add(tenantId);
      }
    }
  }

  private async post(tenantId: string, m: ExportManifest, attempt: number): Promise<boolean> {
    const body = JSON.stringify({ type: 'billing.export.created', tenantId, export: m });
    try {
      const res = await fetch(this.o.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-meterhouse-signature': signature(this.o.secret, body), 'x-meterhouse-delivery': `${tenantId}/${m.sequence}` },
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
