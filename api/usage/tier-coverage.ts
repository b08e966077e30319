import { tierKeptFrom, type TierKeptFrom, type TierRetention } from '../../sql/datasets/rollups.js';
import { filledFromOf, readFilledFrom, type FilledFromMark } from '../../sql/queries/tier-filled.js';
import type { Db } from '../../sql/query.js';

/** How often a process with a tier still being filled looks whether a full pass (its own or another's) has filled it. */
const REFRESH_MS = 10_000;

/**
 * Per rollup tier, the earliest window start a read may take from it: where its retention reaches, or
 * later while a tier whose retention grew is not filled yet (sql/queries/tier-filled.ts). Nothing is
 * read per request: the marks are read at start, after each reconciliation run of this process, and,
 * while any is pending, at most every REFRESH_MS in the background (a full pass by `meterhouse
 * reconcile --full` or another server clears them). Marks seen late only keep reads on raw events longer.
 */
export class TierCoverage {
  private filled: TierKeptFrom;
  private refreshedAt = Date.now();
  private refreshing: Promise<void> | undefined;

  constructor(
    private readonly db: Db,
    private readonly retention: TierRetention,
    marks: readonly FilledFromMark[],
    private readonly onError: (error: unknown) => void = () => {},
  ) {
    this.filled = filledFromOf(marks);
  }

  /** How many tiers are still being filled. */
  get filling(): number {
    return Object.keys(this.filled).length;
  }

  /** Whether some tier is still being filled. */
  get pending(): boolean {
    return this.filling > 0;
  }

  readableFrom(productNowMs: number): TierKeptFrom {
    const from = tierKeptFrom(this.retention, productNowMs);
    for (const [tier, filledFrom] of Object.entries(this.filled) as [keyof TierKeptFrom, number][]) {
      from[tier] = Math.max(from[tier] ?? -Infinity, filledFrom);
    }
    if (this.pending && Date.now() - this.refreshedAt >= REFRESH_MS) void this.refresh().catch(this.onError);
    return from;
  }

  /** Read the marks again (one statement at a time). On failure the marks held stay: reads stay on raw events. */
  refresh(): Promise<void> {
    this.refreshing ??= (async () => {
      try {
        this.filled = filledFromOf(await readFilledFrom(this.db));
      } finally {
        this.refreshedAt = Date.now();
        this.refreshing = undefined;
      }
    })();
    return this.refreshing;
  }
}
