import { RefreshingCache } from '../access/refresh.js';
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
      // A tenant id never holds '/' (access/tenants.ts TENANT_ID), so the id names one meter.
      idOf: ({ tenantId, key }) => `${tenantId}/${key}`,
      lifeSeconds: cacheSeconds,
      maxEntries: 10_000,
    });
  }
}
