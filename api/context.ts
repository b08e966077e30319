import type { Db } from '../sql/query.js';
import type { EventSink } from '../ingest/writer.js';
import type { Config } from './config.js';
import type { Principal } from '../access/keys.js';
import type { Access, Caller } from '../access/access.js';
import type { Logger } from './logger.js';
import type { Metrics } from './metrics.js';
import type { BillingCloser } from '../jobs/billing/close.js';
import type { ExportBucket } from '../jobs/billing/objects.js';
import type { Corrector } from '../ingest/corrections.js';
import type { Clock } from '../domain/clock.js';
import type { ReadGate } from './read-gate.js';
import type { ByteBudget } from './byte-budget.js';
import type { AuditLog } from '../access/audit.js';
import type { LinkStore } from '../access/links.js';
import type { LinkClaims } from '../access/link-tokens.js';
import type { TierCoverage } from './usage/tier-coverage.js';
import type { SqlService } from '../analyst/service.js';
import type { AlertEvaluator } from '../alerts/service.js';
import type { MeterCache } from './meter-cache.js';
import type { CustomerCache } from './customer-cache.js';

/** Hono's environment for every route: who is calling, and which request this is. */
export type AppEnv = {
  Variables: {
    requestId: string;
    /** Who is calling (api/auth.ts). */
    caller: Caller;
    /** The tenant key of the caller; set on every tenant route (the operator reaches only /v1/operator/...). */
    principal: Principal;
    /** The read connection leased for this GET (api/read-gate.ts); reads go through it, under the read limits. */
    reader: Db;
    /** Set when the caller is a signed link (api/auth.ts): the customer, meters and tenant it is fixed to. */
    link: LinkClaims;
  };
};

/** What the app needs from the process that hosts it. */
export interface AppDeps {
  db: Db;
  writer: EventSink;
  /** Keys, tenants, the operator credential and the per-tenant limiters. */
  access: Access;
  /** Leases bounded read connections to GET requests. */
  readGate: ReadGate;
  /** In-flight ingest body bytes, bounded in total. */
  ingestBudget: ByteBudget;
  config: Config;
  logger: Logger;
  metrics: Metrics;
  /** The period close job (POST /v1/billing/close runs it for the caller's tenant). */
  closer: BillingCloser;
  /** Amend and void: the versioned correction path. */
  corrector: Corrector;
  /** The product's clock (domain/clock.ts): the system clock, or one a test set at an instant. */
  clock: Clock;
  /** The tamper-evident log every change through the API is recorded in. */
  audit: AuditLog;
  /** Signed dashboard (and console) links: issued, listed, revoked, checked. */
  links: LinkStore;
  /** Analyst SQL (POST /v1/sql) on its own connections. */
  sql: SqlService;
  /** Where exports are copied when S3 is configured. */
  exportBucket?: ExportBucket | undefined;
  /** Usage alerts: rule changes tell it; POST /v1/alerts/evaluate runs it for the caller's tenant. */
  alerts: AlertEvaluator;
  /** Meter definitions for usage reads, cached like tenants; the meter routes forget what they change. */
  meters: MeterCache;
  /** Customer records for the dashboards' calls, cached like meters; PUT /v1/customers/{id} forgets what it saves. */
  customers: CustomerCache;
  /** Where each rollup tier may be read from (its retention, or later while a grown retention is filled). */
  tiers: TierCoverage;
}
