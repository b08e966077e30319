import type { Db, QueryTags } from '../../sql/query.js';
import {
  CONTENT_TYPES,
  FILE_FORMATS,
  exportFile,
  exportsWithoutObject,
  recordExportObject,
  sha256,
  type ExportManifest,
  type FileFormat,
} from '../../sql/queries/exports.js';
import { putObject, type S3Target } from '../../sql/s3/client.js';

/**
 * Billing exports copied to the S3 bucket, apart from the s3 disk's `parts/`:
 *
 *   <S3_PREFIX>exports/<tenantId>/<sequence, 12 digits>/lines.jsonl | lines.csv | lines.parquet | manifest.json
 *
 * The tables stay the source of truth: an export exists once its manifest row
 * is written, whether or not S3 is up. The close run then uploads every export
 * of the tenant that has no billing_export_objects row yet (so one that failed
 * at its close goes up at a later run), files first and manifest.json last,
 * then records the row. The bytes are the engine's files for the export, which
 * never change, so uploading an export again (a crash before the record)
 * writes the same objects.
 */
export interface ExportBucket extends S3Target {
  /** S3_PREFIX ('' or ending in '/'). */
  prefix: string;
  timeoutMs: number;
}

export const exportObjectDir = (prefix: string, tenantId: string, sequence: number) => `${prefix}exports/${tenantId}/${String(sequence).padStart(12, '0')}/`;

export function exportObjectKeys(prefix: string, tenantId: string, sequence: number) {
  const dir = exportObjectDir(prefix, tenantId, sequence);
  return { manifest: `${dir}manifest.json`, jsonl: `${dir}lines.jsonl`, csv: `${dir}lines.csv`, parquet: `${dir}lines.parquet` };
}

/** Upload one export's three files and its manifest; returns the manifest object's JSON. */
export async function uploadExport(db: Db, bucket: ExportBucket, tenantId: string, m: ExportManifest, tags: QueryTags = {}): Promise<Record<string, unknown>> {
  const keys = exportObjectKeys(bucket.prefix, tenantId, m.sequence);
  const files: Record<string, { key: string; sha256: string; bytes: number }> = {};
  for (const format of Object.keys(FILE_FORMATS) as FileFormat[]) {
    const bytes = await exportFile(db, tenantId, m.sequence, format, tags);
    if (format === 'jsonl' && sha256(bytes) !== m.checksum) throw new Error(`export ${m.sequence} of tenant ${tenantId}: JSONL no longer matches its checksum`);
    await putObject(bucket, keys[format], bytes, CONTENT_TYPES[format], bucket.timeoutMs);
    files[format] = { key: keys[format], sha256: sha256(bytes), bytes: bytes.length };
  }
  const manifest = {
    tenantId,
    id: m.id,
    sequence: m.sequence,
    createdAt: m.createdAt,
    cutoff: m.cutoff,
    lineCount: m.lineCount,
    checksum: m.checksum,
    previousChecksum: m.previousChecksum,
    files,
  };
  await putObject(bucket, keys.manifest, Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`), 'application/json', bucket.timeoutMs);
  await recordExportObject(db, tenantId, m.sequence, bucket.bucket, bucket.prefix, tags);
  return manifest;
}

/** Upload every export of the tenant not yet in the bucket, in sequence order; stops at the first failure (S3 down) and throws it. */
export async function uploadPendingExports(db: Db, bucket: ExportBucket, tenantId: string, tags: QueryTags = {}): Promise<number[]> {
  const uploaded: number[] = [];
  for (;;) {
    const pending = await exportsWithoutObject(db, { tenantId, bucket: bucket.bucket, keyPrefix: bucket.prefix, limit: 100 }, tags);
    if (pending.length === 0) return uploaded;
    for (const m of pending) {
      await uploadExport(db, bucket, tenantId, m, tags);
      uploaded.push(m.sequence);
    }
  }
}
