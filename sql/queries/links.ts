import { z } from 'zod';
import { TABLES } from '../names.js';
import { defineQuery, insertRows, nextVersion, type Db } from '../query.js';

export const linkRow = z.object({
  tenantId: z.string(),
  linkId: z.string(),
  kind: z.string(),
  customerId: z.string(),
  meters: z.array(z.string()),
  createdAt: z.string(),
  expiresAt: z.string(),
  revokedAt: z.string().nullable(),
  createdBy: z.string(),
});
export type LinkRow = z.infer<typeof linkRow>;

const columns = `tenant_id AS tenantId, link_id AS linkId, kind, customer_id AS customerId, meters,
  created_at AS createdAt, expires_at AS expiresAt, revoked_at AS revokedAt, created_by AS createdBy`;

/** FINAL: a revocation is a newer version of the row. */
export const linkById = defineQuery({
  name: 'links.by_id',
  params: z.object({ tenantId: z.string(), linkId: z.string() }),
  row: linkRow,
  sql: (db) => `SELECT ${columns} FROM ${db}.${TABLES.accessLinks} FINAL WHERE tenant_id = {tenantId:String} AND link_id = {linkId:String}`,
});

/** Links of one kind (and customer) that are neither revoked nor expired at `nowMs`, newest first. FINAL as above. */
export const liveLinks = defineQuery({
  name: 'links.live',
  params: z.object({ tenantId: z.string(), kind: z.string(), customerId: z.string().nullable(), nowMs: z.number().int(), limit: z.number().int() }),
  row: linkRow,
  sql: (db) => `SELECT ${columns} FROM ${db}.${TABLES.accessLinks} FINAL
WHERE tenant_id = {tenantId:String} AND kind = {kind:String} AND revoked_at IS NULL
  AND expires_at > fromUnixTimestamp64Milli({nowMs:Int64}, 'UTC')
  AND ({customerId:Nullable(String)} IS NULL OR customer_id = {customerId:Nullable(String)})
ORDER BY created_at DESC, link_id
LIMIT {limit:UInt32}`,
});

export interface LinkWrite {
  tenantId: string;
  linkId: string;
  kind: string;
  customerId: string;
  meters: string[];
  createdAtMs: number;
  expiresAtMs: number;
  revokedAtMs: number | null;
  createdBy: string;
}

/** Write a link's whole current state as a new version. */
export async function writeLink(db: Db, l: LinkWrite): Promise<void> {
  await insertRows(
    db,
    'links.write',
    TABLES.accessLinks,
    [
      {
        tenant_id: l.tenantId,
        link_id: l.linkId,
        kind: l.kind,
        customer_id: l.customerId,
        meters: l.meters,
        created_at: l.createdAtMs,
        expires_at: l.expiresAtMs,
        revoked_at: l.revokedAtMs,
        created_by: l.createdBy,
        version: nextVersion(),
      },
    ],
    { tenantId: l.tenantId },
  );
}
