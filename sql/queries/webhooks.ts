import { z } from 'zod';
import { TABLES } from '../names.js';
import { defineQuery, insertRows, nextVersion, type Db, type QueryTags } from '../query.js';

/** Tenants' own export webhooks (FINAL: a change or deletion is a newer version). Includes the secret: for the dispatcher only. */
export const tenantWebhooks = defineQuery({
  name: 'webhooks.all',
  params: z.object({}),
  row: z.object({ tenantId: z.string(), url: z.string(), secret: z.string() }),
  sql: (db) => `SELECT tenant_id AS tenantId, url, secret FROM ${db}.${TABLES.tenantWebhooks} FINAL WHERE deleted = 0 ORDER BY tenant_id`,
});

/** One tenant's webhook as the API shows it: no secret. */
export const tenantWebhook = defineQuery({
  name: 'webhooks.get',
  params: z.object({ tenantId: z.string() }),
  row: z.object({ url: z.string(), updatedAt: z.string() }),
  sql: (db) => `SELECT url, updated_at AS updatedAt FROM ${db}.${TABLES.tenantWebhooks} FINAL WHERE tenant_id = {tenantId:String} AND deleted = 0`,
});

export async function writeTenantWebhook(db: Db, tenantId: string, hook: { url: string; secret: string } | null, tags: QueryTags = {}): Promise<void> {
  await insertRows(
    db,
    'webhooks.write',
    TABLES.tenantWebhooks,
    [{ tenant_id: tenantId, url: hook?.url ?? '', secret: hook?.secret ?? '', updated_at: Date.now(), deleted: hook ? 0 : 1, version: nextVersion() }],
    tags,
  );
}
