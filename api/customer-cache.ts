import { RefreshingCache } from '../access/refresh.js';
import { tenantScopedId } from '../access/tenants.js';
import { customerById, type CustomerRecord } from '../sql/queries/customers.js';
import type { Db } from '../sql/query.js';

export interface CustomerRef {
  tenantId: string;
  customerId: string;
}

/**
 * Customer records (name, time zone, billing cycle, allowances) for the dashboards' calls (GET /v1/portal/customer,
 * /v1/portal/meters/{key}/periods and /v1/portal/alerts), cached per process like meter definitions (API_KEY_CACHE_SECONDS,
 * access/refresh.ts): a record saved through this process holds here at once (PUT /v1/customers/{id} calls
 * `forget`), in other processes within the cache period. Billing never reads it: the close job and the exports read
 * the stored record. A customer without a record is cached too (the default cycle applies).
 */
export class CustomerCache extends RefreshingCache<CustomerRef, CustomerRecord | undefined> {
  constructor(db: Db, cacheSeconds: number) {
    super({
      load: async ({ tenantId, customerId }) => (await customerById(db, { tenantId, customerId }, { tenantId }))[0],
      idOf: ({ tenantId, customerId }) => tenantScopedId(tenantId, customerId),
      lifeSeconds: cacheSeconds,
    });
  }
}
