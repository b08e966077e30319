import { randomUUID } from 'node:crypto';
import { backgroundDb, type Db, type QueryTags } from '../../sql/query.js';
import {
  allTenants,
  claim,
  claimOf,
  engineNow,
  exportById,
  exportFile,
  exportId,
  lastExport,
  removeLines,
  sha256,
  writeExport,
  writeLines,
  type Claim,
  type ExportManifest,
  type LineRow,
} from '../../sql/queries/exports.js';
import { computeLines, lateMovers, type BillingSettings, type CloseStatementBounds, type PreviousExport } from './lines.js';
import { uploadPendingExports, type ExportBucket } from './objects.js';

/** Where a test may stop a run, to show that the next run completes it. */
export type FaultStage = 'claimed' | 'lines-partly-written' | 'lines-written';

/** The lines of a JSONL file, counted on its bytes: decoding megabytes into strings held the event loop tens of ms. */
export function lineCountOf(jsonl: Buffer): number {
  let n = 0;
  for (let at = jsonl.indexOf(10); at !== -1; at = jsonl.indexOf(10, at + 1)) n++;
  // The engine ends every line with a newline; a last line without one still counts.
  return jsonl.length > 0 && jsonl[jsonl.length - 1] !== 10 ? n + 1 : n;
}

export interface CloseOptions {
  settings: BillingSettings;
  /** Lines per insert (a crash can fall between two). */
  linesPerInsert?: number;
  /** How the meter statements are cut and bounded (jobs/billing/lines.ts; default DEFAULT_CLOSE_STATEMENT_BOUNDS). */
  statements?: CloseStatementBounds | undefined;
  /** Tests only: called at each stage; a throw stops the run there, as a crash would. */
  fault?: (stage: FaultStage) => void | Promise<void>;
  /** When S3 is configured: where exports are copied (jobs/billing/objects.ts). */
  bucket?: ExportBucket | undefined;
  /** An upload that failed (S3 down): the exports stand, and the next run uploads them. */
  onUploadError?: (tenantId: string, error: unknown) => void;
  /** A tenant's close finished (with or without a new export): its last success, for /metrics. */
  onTenantClosed?: (tenantId: string) => void;
}

const JOB = 'billing.close';

/** Write a claimed export: all its lines, then the manifest that makes it exist. Idempotent for one claim. */
async function complete(
  db: Db,
  tenantId: string,
  held: Claim,
  prev: (PreviousExport & { checksum: string }) | undefined,
  lines: LineRow[],
  o: CloseOptions,
  tags: QueryTags,
): Promise<ExportManifest> {
  const chunk = o.linesPerInsert ?? 10_000;
  for (let i = 0; i < lines.length; i += chunk) {
    await writeLines(db, tenantId, held.sequence, lines.slice(i, i + chunk), tags);
    if (i + chunk < lines.length) await o.fault?.('lines-partly-written');
  }
  await o.fault?.('lines-written');
  // A customer whose record moved while the lines were computed has none (lateMovers): the run may have read its old
  // cycle. The API, which saved the move, looks for its lines afterwards and undoes the move if it finds them.
  const late = await lateMovers(db, tenantId, held.cutoffMs, prev, tags);
  if (late.length > 0) await removeLines(db, tenantId, held.sequence, late, tags);
  // The checksum is over the JSONL the engine serves for this export, read back after every line is in.
  const jsonl = await exportFile(db, tenantId, held.sequence, 'jsonl', tags);
  const lineCount = lineCountOf(jsonl);
  await writeExport(
    db,
    tenantId,
    {
      sequence: held.sequence,
      createdAtMs: held.claimedAtMs,
      cutoffMs: held.cutoffMs,
      lineCount,
      checksum: sha256(jsonl),
      previousChecksum: prev?.checksum ?? '',
    },
    tags,
  );
  const [manifest] = await exportById(db, { tenantId, id: exportId(tenantId, held.sequence) }, tags);
  if (!manifest) throw new Error(`export ${held.sequence} of tenant ${tenantId} is not readable after its write`);
  return manifest;
}

/**
 * One close run for one tenant. First completes a claimed export that has no
 * manifest (a run that crashed, or one still running elsewhere: completing it
 * again writes the same rows). Then takes the cutoff (the engine's clock minus
 * BILLING_CUTOFF_LAG_MS, so inserts in flight at the run are not half seen),
 * computes the lines, and if there are any, claims the next sequence and
 * writes them. A run that loses the claim to another adopts the winner's
 * cutoff, so both write the same export.
 */
export async function closeTenant(db: Db, tenantId: string, o: CloseOptions): Promise<ExportManifest[]> {
  const tags: QueryTags = { job: JOB, tenantId };
  const runId = randomUUID();
  const produced: ExportManifest[] = [];
  for (;;) {
    const [prev] = await lastExport(db, { tenantId }, tags);
    const sequence = (prev?.sequence ?? 0) + 1;
    let held = await claimOf(db, tenantId, sequence, tags);
    const pending = held !== undefined;
    let lines: LineRow[] | undefined;
    if (!held) {
      const cutoffMs = (await engineNow(db, {}, tags))[0]!.nowMs - o.settings.cutoffLagMs;
      if (prev && cutoffMs <= prev.cutoffMs) return produced;
      lines = await computeLines(db, tenantId, o.settings, cutoffMs, prev, tags, o.statements);
      if (lines.length === 0) return produced;
      held = await claim(db, tenantId, sequence, runId, cutoffMs, tags);
      if (held.runId !== runId) lines = undefined;
    }
    lines ??= await computeLines(db, tenantId, o.settings, held.cutoffMs, prev, tags, o.statements);
    await o.fault?.('claimed');
    // The ledger is a chain: each manifest carries the checksum of the tenant's previous one ('' for the first).
    produced.push(await complete(db, tenantId, held, prev, lines, o, tags));
    // After finishing someone else's claim, look again for what this run itself has to report.
    if (!pending) return produced;
  }
}

export interface CloseRunResult {
  exports: (ExportManifest & { tenantId: string })[];
  /** Exports of earlier runs whose files reached S3 in this run (their first upload had failed). */
  uploadsRetried?: { tenantId: string; sequences: number[] }[];
}

/** For the job log: the exports a run wrote (no lines, no amounts), or nothing when nothing closed. */
export function closeWork({ exports, uploadsRetried = [] }: CloseRunResult): Record<string, unknown> | undefined {
  if (exports.length === 0 && uploadsRetried.length === 0) return undefined;
  return {
    ...(exports.length > 0 && { exportsWritten: exports.map((e) => ({ tenantId: e.tenantId, sequence: e.sequence, lineCount: e.lineCount })) }),
    ...(uploadsRetried.length > 0 && { uploadsRetried }),
  };
}

/**
 * The close job. Runs of one closer never overlap (a run asked for while one is
 * in flight waits for it, then runs); several closers (instances) are safe
 * with each other through the claims.
 */
export class BillingCloser {
  private last: Promise<unknown> = Promise.resolve();
  private readonly db: Db;

  constructor(
    db: Db,
    private readonly options: CloseOptions,
    private readonly onExport: (tenantId: string, m: ExportManifest) => void = () => {},
  ) {
    // A run reads every touched (customer, day) and the period values of the billing log: background
    // work, which API reads share the CPU with instead of waiting behind (docs/benchmarks.md).
    this.db = backgroundDb(db);
  }

  /** Close every tenant, or just one. */
  run(tenantId?: string): Promise<CloseRunResult> {
    const next = this.last.catch(() => {}).then(() => this.runNow(tenantId));
    this.last = next;
    return next;
  }

  private async runNow(only?: string): Promise<CloseRunResult> {
    const tenants = only ? [only] : (await allTenants(this.db, {}, { job: JOB })).map((t) => t.tenantId);
    const exports: CloseRunResult['exports'] = [];
    const failures: unknown[] = [];
    const uploadsRetried: NonNullable<CloseRunResult['uploadsRetried']> = [];
    let s3Failed = false;
    // One tenant's failure must not hold back the others; the run still fails, so it is logged and retried.
    for (const tenantId of tenants) {
      try {
        const written = await closeTenant(this.db, tenantId, this.options);
        // Exports never wait for S3: a failed upload is reported, the rest of this run skips S3, and the next run retries.
        if (this.options.bucket && !s3Failed) {
          const uploaded = await uploadPendingExports(this.db, this.options.bucket, tenantId, { job: JOB, tenantId }).catch((error: unknown) => {
            s3Failed = true;
            this.options.onUploadError?.(tenantId, error);
            return [];
          });
          const retried = uploaded.filter((sequence) => !written.some((m) => m.sequence === sequence));
          if (retried.length > 0) uploadsRetried.push({ tenantId, sequences: retried });
        }
        for (const m of written) {
          exports.push({ tenantId, ...m });
          this.onExport(tenantId, m);
        }
        this.options.onTenantClosed?.(tenantId);
      } catch (error) {
        failures.push(error);
      }
    }
    if (failures.length > 0) throw failures[0];
    return { exports, uploadsRetried };
  }
}
