import { createHash } from 'node:crypto';
import { z } from 'zod';
import { TABLES } from '../names.js';
import { count } from '../count.js';
import { countRows, defineQuery, execute, insertRows, queryBytes, type Db, type QueryTags } from '../query.js';
import { wideSum } from '../decimals.js';
import { csvTextSql } from '../csv-cells.js';

const ms = z.coerce.number().int();

export const allTenants = defineQuery({
  name: 'billing.tenants',
  params: z.object({}),
  row: z.object({ tenantId: z.string() }),
  sql: (db) => `SELECT tenant_id AS tenantId FROM ${db}.${TABLES.tenants} FINAL ORDER BY tenant_id`,
});

/** The engine's clock: cutoffs compare with stored_at, which the engine stamps. */
export const engineNow = defineQuery({
  name: 'billing.now',
  params: z.object({}),
  row: z.object({ nowMs: ms }),
  sql: () => `SELECT toUnixTimestamp64Milli(now64(3)) AS nowMs`,
});

export const manifestRow = z.object({
  id: z.string(),
  sequence: ms,
  createdAt: z.string(),
  cutoff: z.string(),
  lineCount: ms,
  checksum: z.string(),
  previousChecksum: z.string(),
});
export type ExportManifest = z.infer<typeof manifestRow>;
const manifestColumns = `export_id AS id, sequence, created_at AS createdAt, cutoff, line_count AS lineCount, checksum, previous_checksum AS previousChecksum`;

// FINAL: an export written twice (two runs completing one claim) is one row.
export const listExports = defineQuery({
  name: 'billing.exports.list',
  params: z.object({ tenantId: z.string(), afterSequence: z.number().int().min(0), limit: z.number().int().min(1) }),
  row: manifestRow,
  sql: (db) => `SELECT ${manifestColumns} FROM ${db}.${TABLES.billingExports} FINAL
WHERE tenant_id = {tenantId:String} AND sequence > {afterSequence:UInt64}
ORDER BY sequence LIMIT {limit:UInt32}`,
});

export const exportById = defineQuery({
  name: 'billing.exports.get',
  params: z.object({ tenantId: z.string(), id: z.string() }),
  row: manifestRow,
  sql: (db) => `SELECT ${manifestColumns} FROM ${db}.${TABLES.billingExports} FINAL
WHERE tenant_id = {tenantId:String} AND export_id = {id:String}`,
});

/**
 * The first export of a tenant written once the ledger was chained (migration
 * 13 applied; both times are the engine's): from it on every export must carry
 * its previous checksum. 0 when there is none yet.
 */
export const firstChainedExport = defineQuery({
  name: 'billing.exports.first_chained',
  params: z.object({ tenantId: z.string(), chainVersion: z.number().int() }),
  row: z.object({ sequence: ms }),
  sql: (db) => `SELECT min(sequence) AS sequence FROM ${db}.${TABLES.billingExports} FINAL
WHERE tenant_id = {tenantId:String}
  AND created_at >= (SELECT min(applied_at) FROM ${db}.${TABLES.migrations} WHERE version = {chainVersion:UInt32})`,
});

export const lastExport = defineQuery({
  name: 'billing.exports.last',
  params: z.object({ tenantId: z.string() }),
  row: z.object({ sequence: ms, cutoffMs: ms, checksum: z.string() }),
  sql: (db) => `SELECT sequence, toUnixTimestamp64Milli(cutoff) AS cutoffMs, checksum FROM ${db}.${TABLES.billingExports} FINAL
WHERE tenant_id = {tenantId:String} ORDER BY sequence DESC LIMIT 1`,
});

export interface Claim {
  sequence: number;
  runId: string;
  cutoffMs: number;
  claimedAtMs: number;
}

// The first committed claim wins (later inserts with its token are dropped); the earliest row decides otherwise.
const claimRow = defineQuery({
  name: 'billing.claims.get',
  params: z.object({ tenantId: z.string(), sequence: z.number().int() }),
  row: z.object({ sequence: ms, runId: z.string(), cutoffMs: ms, claimedAtMs: ms }),
  sql: (db) => `SELECT sequence, run_id AS runId, toUnixTimestamp64Milli(cutoff) AS cutoffMs, toUnixTimestamp64Milli(claimed_at) AS claimedAtMs
FROM ${db}.${TABLES.billingClaims} WHERE tenant_id = {tenantId:String} AND sequence = {sequence:UInt64}
ORDER BY claimed_at, run_id LIMIT 1`,
});

export async function claimOf(db: Db, tenantId: string, sequence: number, tags: QueryTags = {}): Promise<Claim | undefined> {
  return (await claimRow(db, { tenantId, sequence }, tags))[0];
}

/** Claim (tenant, sequence) with a cutoff; returns the claim that holds it (ours, or the run's that got there first). */
export async function claim(db: Db, tenantId: string, sequence: number, runId: string, cutoffMs: number, tags: QueryTags = {}): Promise<Claim> {
  const token = JSON.stringify([tenantId, sequence]);
  await insertRows(db, 'billing.claims.insert', TABLES.billingClaims, [{ tenant_id: tenantId, sequence, run_id: runId, cutoff: cutoffMs }], tags, {
    insert_deduplication_token: token,
  });
  const held = await claimOf(db, tenantId, sequence, tags);
  if (!held) throw new Error(`claim of export ${sequence} for tenant ${tenantId} is not readable after its insert`);
  return held;
}

export interface LineRow {
  customerId: string;
  meterKey: string;
  periodStartMs: number;
  periodEndMs: number;
  kind: 'usage' | 'adjustment';
  value: string;
  events: number;
}

export async function writeLines(db: Db, tenantId: string, sequence: number, lines: readonly LineRow[], tags: QueryTags = {}): Promise<void> {
  await insertRows(
    db,
    'billing.lines.insert',
    TABLES.billingExportLines,
    lines.map((l) => ({
      tenant_id: tenantId,
      sequence,
      customer_id: l.customerId,
      meter_key: l.meterKey,
      period_start: l.periodStartMs,
      period_end: l.periodEndMs,
      kind: l.kind,
      value: l.value,
      events: l.events,
    })),
    tags,
  );
}

/**
 * Remove these customers' lines from an export not yet written (no manifest): a customer whose cycle moved while the
 * run computed them (jobs/billing/lines.ts lateMovers). Reads first: most calls find no line to remove and start no
 * mutation. A lightweight DELETE: the rows are gone for every read (the export's file, exportedValues) at once.
 */
export async function removeLines(db: Db, tenantId: string, sequence: number, customerIds: string[], tags: QueryTags = {}): Promise<void> {
  const where = `tenant_id = {tenantId:String} AND sequence = {sequence:UInt64} AND customer_id IN {customerIds:Array(String)}`;
  const params = { tenantId, sequence, customerIds };
  const table = `${db.database}.${TABLES.billingExportLines}`;
  if ((await countRows(db, 'billing.lines.count_of', `SELECT 1 FROM ${table} WHERE ${where} LIMIT 1`, params, tags)) > 0)
    await execute(db, 'billing.lines.remove', `DELETE FROM ${table} WHERE ${where}`, params, tags);
}

/** What the tenant's exports up to `sequence` said, per (customer, meter, period): the sum of its lines (deltas telescope). */
export const exportedValues = defineQuery({
  name: 'billing.lines.exported',
  params: z.object({ tenantId: z.string(), uptoSequence: z.number().int(), customers: z.array(z.string()) }),
  row: z.object({ customerId: z.string(), meterKey: z.string(), startMs: ms, value: z.string(), events: count }),
  sql: (
    db,
  ) => `SELECT customer_id AS customerId, meter_key AS meterKey, toUnixTimestamp64Milli(period_start) AS startMs, toString(${wideSum('value')}) AS value, sum(events) AS events
FROM ${db}.${TABLES.billingExportLines} FINAL
WHERE tenant_id = {tenantId:String} AND sequence <= {uptoSequence:UInt64} AND customer_id IN {customers:Array(String)}
GROUP BY customerId, meterKey, startMs`,
});

export const FILE_FORMATS = { jsonl: 'JSONEachRow', csv: 'CSVWithNames', parquet: 'Parquet' } as const;
export type FileFormat = keyof typeof FILE_FORMATS;
export const CONTENT_TYPES: Record<FileFormat, string> = {
  jsonl: 'application/x-ndjson',
  csv: 'text/csv; charset=utf-8',
  parquet: 'application/vnd.apache.parquet',
};

// Pinned here, not inherited from the connection, so a file's bytes (and the JSONL checksum) never depend on session state.
const FILE_SETTINGS = {
  output_format_json_quote_64bit_integers: 1,
  output_format_json_quote_decimals: 1,
  output_format_decimal_trailing_zeros: 0,
  date_time_output_format: 'iso',
  output_format_parquet_compression_method: 'zstd',
};

/**
 * An export's lines as a file the engine writes, in canonical order. FINAL: a line written twice is one line.
 * CSV text cells are neutralised against formula injection (../csv-cells.ts); meter keys are [a-z0-9_-] and need none.
 */
export function exportFile(db: Db, tenantId: string, sequence: number, format: FileFormat, tags: QueryTags = {}): Promise<Buffer> {
  const customerId = format === 'csv' ? csvTextSql('customer_id') : 'customer_id';
  const sql = `SELECT ${customerId} AS customerId, meter_key AS meterKey, period_start AS periodStart, period_end AS periodEnd,
  toString(kind) AS kind, value, events
FROM ${db.database}.${TABLES.billingExportLines} FINAL
WHERE tenant_id = {tenantId:String} AND sequence = {sequence:UInt64}
ORDER BY customer_id, meter_key, period_start, kind
FORMAT ${FILE_FORMATS[format]}`;
  return queryBytes(db, `billing.lines.file_${format}`, sql, { tenantId, sequence }, FILE_SETTINGS, tags);
}

export const sha256 = (bytes: Buffer | string) => createHash('sha256').update(bytes).digest('hex');

export function exportId(tenantId: string, sequence: number): string {
  return `exp_${sha256(JSON.stringify([tenantId, sequence])).slice(0, 24)}`;
}

export async function writeExport(
  db: Db,
  tenantId: string,
  m: { sequence: number; createdAtMs: number; cutoffMs: number; lineCount: number; checksum: string; previousChecksum: string },
  tags: QueryTags = {},
): Promise<void> {
  await insertRows(
    db,
    'billing.exports.insert',
    TABLES.billingExports,
    [
      {
        tenant_id: tenantId,
        sequence: m.sequence,
        export_id: exportId(tenantId, m.sequence),
        created_at: m.createdAtMs,
        cutoff: m.cutoffMs,
        line_count: m.lineCount,
        checksum: m.checksum,
        previous_checksum: m.previousChecksum,
      },
    ],
    tags,
  );
}

/**
 * The outbox: exports not yet acknowledged by their tenant's webhook, oldest
 * first per tenant, of the tenants that have an endpoint. An export's manifest row is its outbox entry (written in the same
 * insert, so an export is never without one).
 */
export const undelivered = defineQuery({
  name: 'billing.outbox.pending',
  params: z.object({ tenants: z.array(z.string()), limit: z.number().int().min(1) }),
  row: manifestRow.extend({ tenantId: z.string() }),
  sql: (db) => `SELECT tenant_id AS tenantId, ${manifestColumns} FROM ${db}.${TABLES.billingExports} FINAL
WHERE tenant_id IN {tenants:Array(String)} AND (tenant_id, sequence) NOT IN (SELECT tenant_id, sequence FROM ${db}.${TABLES.billingDeliveries})
ORDER BY tenant_id, sequence LIMIT {limit:UInt32}`,
});

export async function recordDelivery(db: Db, tenantId: string, sequence: number, attempts: number): Promise<void> {
  await insertRows(db, 'billing.outbox.delivered', TABLES.billingDeliveries, [{ tenant_id: tenantId, sequence, attempts, delivered_at: Date.now() }], {
    tenantId,
    job: 'billing.webhooks',
  });
}

/** Exports of a tenant whose files are not yet in the bucket (no billing_export_objects row), oldest first. */
export const exportsWithoutObject = defineQuery({
  name: 'billing.objects.pending',
  params: z.object({ tenantId: z.string(), bucket: z.string(), keyPrefix: z.string(), limit: z.number().int().min(1) }),
  row: manifestRow,
  sql: (db) => `SELECT ${manifestColumns} FROM ${db}.${TABLES.billingExports} FINAL
WHERE tenant_id = {tenantId:String} AND sequence NOT IN (
  SELECT sequence FROM ${db}.${TABLES.billingExportObjects} FINAL
  WHERE tenant_id = {tenantId:String} AND bucket = {bucket:String} AND key_prefix = {keyPrefix:String})
ORDER BY sequence LIMIT {limit:UInt32}`,
});

/** When each of these exports' files reached the bucket (absent: not yet). */
export const exportObjectsStored = defineQuery({
  name: 'billing.objects.stored',
  params: z.object({ tenantId: z.string(), bucket: z.string(), keyPrefix: z.string(), sequences: z.array(z.number().int()) }),
  row: z.object({ sequence: ms, storedAt: z.string() }),
  sql: (db) => `SELECT sequence, min(stored_at) AS storedAt FROM ${db}.${TABLES.billingExportObjects}
WHERE tenant_id = {tenantId:String} AND bucket = {bucket:String} AND key_prefix = {keyPrefix:String} AND sequence IN {sequences:Array(UInt64)}
GROUP BY sequence`,
});

export async function recordExportObject(db: Db, tenantId: string, sequence: number, bucket: string, keyPrefix: string, tags: QueryTags = {}): Promise<void> {
  await insertRows(db, 'billing.objects.record', TABLES.billingExportObjects, [{ tenant_id: tenantId, sequence, bucket, key_prefix: keyPrefix }], tags);
}
