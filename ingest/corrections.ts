import type { QueryTags } from '../sql/query.js';
import type { Db } from '../sql/query.js';
import { currentVersion, writeVersion, type StoredVersion } from '../sql/queries/corrections.js';
import { rewriteWindows } from '../sql/queries/reconcile-rewrite.js';
import type { TierKeptFrom } from '../sql/datasets/rollups.js';

export class CorrectionError extends Error {
  override readonly name = 'CorrectionError';
  constructor(
    readonly reason: 'not_found' | 'voided',
    message: string,
  ) {
    super(message);
  }
}

export interface Correction {
  /** Absent: keep. */
  quantity?: string | undefined;
  /** Absent: keep; present: replaces the whole map. */
  dimensions?: Record<string, string> | undefined;
  void?: boolean;
}

const HOUR_MS = 3_600_000;

interface Pending {
  tenantId: string;
  eventId: string;
  change: Correction;
  changedBy: string;
  tags: QueryTags;
  resolve(v: StoredVersion): void;
  reject(e: unknown): void;
}

/**
 * The explicit correction path: amend or void an event by writing its next
 * version (never through the ingest writer, whose dedupe drops a known id).
 * Corrections in this process are written one at a time, so each reads the
 * version it supersedes; across instances the later version (microsecond
 * clock) wins. The rollup MVs count a new version as one more row, so the
 * touched hours are reconciled from the deduplicated raw events before the
 * correction is answered: numbers follow it at once. That rewrite (lightweight
 * DELETEs on three tiers) costs far more than the write, so corrections that
 * arrive while one is in progress are written together and share one rewrite.
 */
export class Corrector {
  private queue: Pending[] = [];
  private draining: Promise<void> | undefined;

  /** `keptFrom`: each rollup tier's oldest kept window now (tierKeptFrom); a tier's older windows are not rewritten. */
  constructor(
    private readonly db: Db,
    private readonly cluster: string | undefined,
    private readonly keptFrom: () => TierKeptFrom = () => ({}),
  ) {}

  apply(tenantId: string, eventId: string, change: Correction, changedBy: string, tags: QueryTags = {}): Promise<StoredVersion> {
    const done = new Promise<StoredVersion>((resolve, reject) => this.queue.push({ tenantId, eventId, change, changedBy, tags, resolve, reject }));
    this.draining ??= this.drain();
    return done;
  }

  private async drain(): Promise<void> {
    await Promise.resolve();
    try {
      while (this.queue.length > 0) {
        const batch = this.queue.splice(0);
        const written: { p: Pending; version: StoredVersion }[] = [];
        for (const p of batch) {
          try {
            written.push({ p, version: await this.write(p) });
          } catch (error) {
            p.reject(error);
          }
        }
        try {
          await rewriteWindows(
            this.db,
            written.map(({ p, version }) => {
              const ms = Date.parse(version.timestamp);
              return { tenantId: p.tenantId, metricName: version.metricName, hourMs: ms - (ms % HOUR_MS) };
            }),
            this.cluster,
            this.keptFrom(),
          );
          for (const { p, version } of written) p.resolve(version);
        } catch (error) {
          // The versions are written; the scheduled reconciliation repairs the rollups. The caller learns it failed.
          for (const { p } of written) p.reject(error);
        }
      }
    } finally {
      this.draining = undefined;
    }
  }

  private async write({ tenantId, eventId, change, changedBy, tags }: Pending): Promise<StoredVersion> {
    const [current] = await currentVersion(this.db, { tenantId, eventId }, tags);
    if (!current) throw new CorrectionError('not_found', `no event "${eventId}" in this tenant`);
    if (current.isDeleted === 1) throw new CorrectionError('voided', `event "${eventId}" is voided; send a new event instead`);
    await writeVersion(
      this.db,
      tenantId,
      current,
      {
        quantity: change.quantity ?? current.quantity,
        dimensions: change.dimensions ?? current.dimensions,
        isDeleted: change.void === true,
        changedBy,
      },
      tags,
    );
    const [written] = await currentVersion(this.db, { tenantId, eventId }, tags);
    return written!;
  }
}
