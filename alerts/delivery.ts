import type { Logger } from 'pino';
import type { Db } from '../sql/query.js';
import { recordAlertDelivery, undeliveredAlerts, type AlertEventRow } from '../sql/queries/alerts.js';
import { OutboxDispatcher, type Outbox, type WebhookOptions } from '../jobs/webhooks/outbox-dispatcher.js';
import { alertEventView } from './view.js';

const JOB = 'alerts.webhooks';

/**
 * Crossings without an acknowledgement, per tenant in crossing order (several
 * thresholds crossed at once: ascending for rising rules). The delivery id is
 * `alert/<crossing id>`: the same on every attempt and every instance.
 */
const alertOutbox: Outbox<AlertEventRow> = {
  job: JOB,
  pending: (db, tenants) => undeliveredAlerts(db, { tenants, limit: 1000 }, { job: JOB }),
  body: (tenantId, e) => JSON.stringify({ type: 'alert.crossed', tenantId, alert: alertEventView(e) }),
  deliveryId: (_tenantId, e) => `alert/${e.id}`,
  logFields: (e) => ({ alertId: e.id }),
  delivered: (db, tenantId, e, attempts) => recordAlertDelivery(db, tenantId, e.id, attempts),
};

/** Delivers crossings to the tenant's webhook (PUT /v1/webhooks) with the export dispatcher's signing, order, retries and backoff. */
export class AlertDispatcher extends OutboxDispatcher<AlertEventRow> {
  constructor(db: Db, o: WebhookOptions, logger: Logger) {
    super(db, alertOutbox, o, logger);
  }
}
