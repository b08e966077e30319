import type { EventRow } from './normalise.js';
import type { WriteOutcome } from './writer.js';

/** One event waiting in the writer: settled once with its outcome, or failed with its batch's error. */
export interface Pending {
  row: EventRow;
  resolve(outcome: WriteOutcome): void;
  reject(error: unknown): void;
}

/**
 * The outcomes of one write() call, as Promise.all over one promise per row would give them (all
 * rows' outcomes in order, or the first error), without a promise and two closures per row.
 */
export class WriteCall {
  readonly outcomes: WriteOutcome[];
  private left: number;
  private settled = false;
  readonly done: Promise<WriteOutcome[]>;
  private resolveAll!: (outcomes: WriteOutcome[]) => void;
  private rejectAll!: (error: unknown) => void;

  constructor(rows: number) {
    this.outcomes = new Array<WriteOutcome>(rows);
    this.left = rows;
    this.done = new Promise((resolve, reject) => {
      this.resolveAll = resolve;
      this.rejectAll = reject;
    });
    if (rows === 0) this.settle();
  }

  rowSettled(index: number, outcome: WriteOutcome): void {
    this.outcomes[index] = outcome;
    if (--this.left === 0) this.settle();
  }

  rowFailed(error: unknown): void {
    if (this.settled) return;
    this.settled = true;
    this.rejectAll(error);
  }

  private settle(): void {
    if (this.settled) return;
    this.settled = true;
    this.resolveAll(this.outcomes);
  }
}

/** One queued row of a write() call; settles once, as a promise would. */
export class PendingRow implements Pending {
  private open = true;
  constructor(
    readonly row: EventRow,
    private readonly call: WriteCall,
    private readonly index: number,
  ) {}

  resolve(outcome: WriteOutcome): void {
    if (!this.open) return;
    this.open = false;
    this.call.rowSettled(this.index, outcome);
  }

  reject(error: unknown): void {
    if (!this.open) return;
    this.open = false;
    this.call.rowFailed(error);
  }
}
