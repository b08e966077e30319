import { z } from 'zod';
import { TABLES } from '../names.js';
import { defineCount, defineQuery, insertRows, type Db, type QueryTags } from '../query.js';

const ms = z.coerce.number().int();

/** A stored audit row as the chain hashes it: `at` in epoch ms, before/after as the JSON text stored. */
export const auditRow = z.object({
  tenantId: z.string(),
  sequence: ms,
  id: z.string(),
  atMs: ms,
  actor: z.string(),
  kind: z.string(),
  requestId: z.string(),
  target: z.string(),
  before: z.string(),
  after: z.string(),
  previousHash: z.string(),
  hash: z.string(),
});
export type AuditRow = z.infer<typeof auditRow>;

const columns = `tenant_id AS tenantId, sequence, id, toUnixTimestamp64Milli(at) AS atMs, actor, toString(kind) AS kind,
request_id AS requestId, target, before, after, previous_hash AS previousHash, hash`;

/** The head of a tenant's chain. No FINAL: a plain MergeTree never collapses rows. */
export const auditHead = defineQuery({
  name: 'audit.head',
  params: z.object({ tenantId: z.string() }),
  row: z.object({ sequence: ms, hash: z.string() }),
  sql: (db) => `SELECT sequence, hash FROM ${db}.${TABLES.auditLog} WHERE tenant_id = {tenantId:String} ORDER BY sequence DESC, at DESC, id DESC LIMIT 1`,
});

/** Whether this row (by id) holds its sequence: a concurrent writer's insert with the same token would have won instead. */
export const auditRowStored = defineCount({
  name: 'audit.stored',
  params: z.object({ tenantId: z.string(), sequence: z.number().int(), id: z.string() }),
  rows: (db) => `SELECT 1 FROM ${db}.${TABLES.auditLog} WHERE tenant_id = {tenantId:String} AND sequence = {sequence:UInt64} AND id = {id:String}`,
});

/** Append one row; the token makes a second insert for the same (tenant, sequence) a no-op. */
export async function insertAuditRow(db: Db, r: AuditRow, tags: QueryTags = {}): Promise<void> {
  await insertRows(
    db,
    'audit.insert',
    TABLES.auditLog,
    [
      {
        tenant_id: r.tenantId,
        sequence: r.sequence,
        id: r.id,
        at: r.atMs,
        actor: r.actor,
        kind: r.kind,
        request_id: r.requestId,
        target: r.target,
        before: r.before,
        after: r.after,
        previous_hash: r.previousHash,
        hash: r.hash,
      },
    ],
    tags,
    { insert_deduplication_token: JSON.stringify(['audit', r.tenantId, r.sequence]) },
  );
}

/** A time window that holds every row. */
export const ANY_TIME = { fromMs: -Number.MAX_SAFE_INTEGER, toMs: Number.MAX_SAFE_INTEGER };

/** Rows in chain order after a keyset position, for listing and for verification. */
export const auditPage = defineQuery({
  name: 'audit.page',
  params: z.object({
    tenantId: z.string(),
    afterSequence: z.number().int(),
    afterId: z.string(),
    /** '' for every kind. */
    kind: z.string(),
    fromMs: z.number().int(),
    toMs: z.number().int(),
    limit: z.number().int().min(1),
  }),
  row: auditRow,
  sql: (db) => `SELECT ${columns} FROM ${db}.${TABLES.auditLog}
WHERE tenant_id = {tenantId:String} AND (sequence, id) > ({afterSequence:UInt64}, {afterId:String})
  AND ({kind:String} = '' OR kind = {kind:String})
  AND toUnixTimestamp64Milli(at) >= {fromMs:Int64} AND toUnixTimestamp64Milli(at) < {toMs:Int64}
ORDER BY sequence, id LIMIT {limit:UInt32}`,
});

/** Tenants that have an audit chain. */
export const auditTenants = defineQuery({
  name: 'audit.tenants',
  params: z.object({}),
  row: z.object({ tenantId: z.string() }),
  sql: (db) => `SELECT DISTINCT tenant_id AS tenantId FROM ${db}.${TABLES.auditLog} ORDER BY tenantId`,
});
