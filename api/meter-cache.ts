import { RefreshingCache } from '../access/refresh.js';
import { tenantScopedId } from '../access/tenants.js';
import { getMeter, type Meter } from '../sql/queries/meters.js';
import type { Db } from '../sql/query.js';

export interface MeterRef {
  tenantId: string;
  key: string;
}

/**
 * Meter definitions for usage reads (GET /v1/meters/{key}/usage, the dashboards' meter reads), cached per process
 * like tenants and key resolutions (API_KEY_CACHE_SECONDS, access/refresh.ts): a meter created, changed or deleted
 * through this process holds here at once (its routes call `forget`), in other processes within the cache period.
 * Without it every usage read ran one more engine statement for the definition (4-6 ms of a 22 ms hourly read on a
 * quiet engine). A meter that does not exist is cached too (a 404 costs no statement).
 */
export class MeterCache extends RefreshingCache<MeterRef, Meter | undefined> {
  constructor(db: Db, cacheSeconds: number) {
    super({
      load: ({ tenantId, key }) => getMeter(db, tenantId, key),
      idOf: ({ tenantId, key }) => tenantScopedId(tenantId, key),
      lifeSeconds: cacheSeconds,
    });
  }
}
