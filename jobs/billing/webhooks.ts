import type { Logger } from 'pino';
import type { Db } from '../../sql/query.js';
import { recordDelivery, undelivered, type ExportManifest } from '../../sql/queries/exports.js';
import { OutboxDispatcher, type Outbox, type WebhookOptions } from '../webhooks/outbox-dispatcher.js';

export { DEFAULT_TENANT, signature, type WebhookEndpoint, type WebhookOptions } from '../webhooks/outbox-dispatcher.js';

/** Exports without an acknowledgement, per tenant in sequence order; receivers dedupe on (tenantId, sequence). */
const exportOutbox: Outbox<ExportManifest> = {
  job: 'billing.webhooks',
  pending: (db, tenants) => undelivered(db, { tenants, limit: 1000 }, { job: 'billing.webhooks' }),
  body: (tenantId, m) => JSON.stringify({ type: 'billing.export.created', tenantId, export: m }),
  deliveryId: (tenantId, m) => `${tenantId}/${m.sequence}`,
  delivered: (db, tenantId, m, attempts) => recordDelivery(db, tenantId, m.sequence, attempts),
  logFields: (m) => ({ sequence: m.sequence }),
};

/**
 * Delivers each new export to its tenant's endpoint (jobs/webhooks/outbox-dispatcher.ts):
 * export n+1 waits until n is acknowledged; signed, retried with backoff, at least once.
 */
export class WebhookDispatcher extends OutboxDispatcher<ExportManifest> {
  constructor(db: Db, o: WebhookOptions, logger: Logger) {
    super(db, exportOutbox, o, logger);
  }
}
