import type { Db, QueryTags } from '../../sql/query.js';
import { customerHasExports, linesBeforeMove, saveCustomer, type CustomerRecord } from '../../sql/queries/customers.js';
import { engineNow } from '../../sql/queries/exports.js';
import { cycleOf } from './customer-periods.js';
import type { BillingCycle } from './periods.js';

export type RecordInput = Omit<CustomerRecord, 'createdAt' | 'updatedAt' | 'cycleMovedAtMs'>;

export type SaveOutcome =
  | { saved: CustomerRecord }
  /** `exported`: the customer had export lines already; `billed-meanwhile`: a close run billed it in its old cycle while the move was saved (undone). */
  | { refused: 'exported' | 'billed-meanwhile' };

const sameCycle = (a: BillingCycle, b: BillingCycle) => a.timezone === b.timezone && a.interval === b.interval && a.anchorDay === b.anchorDay;

/**
 * Save a customer's record. A move (its time zone or cycle changes from what it bills in: its record's, or the
 * tenant default) is refused once the customer has export lines, since periods already exported keep their bounds.
 *
 * A close run may read the record before the move is stored and write lines of the old cycle after the check: so
 * the move is stored with the engine's clock (a cutoff's), and after the save the customer's lines in exports whose
 * cutoff came before the move are looked for. Found, the move is undone (the old cycle saved again, as a move of
 * its own so the next run reads the customer's days) and refused. Not found, the run writes its lines later and
 * sees the move when it looks again before its manifest (jobs/billing/lines.ts lateMovers): it removes them, and a
 * later run bills the customer in its new cycle. One of the two sees the other's write, so no customer has lines
 * of a cycle other than its record's.
 */
export async function saveCustomerRecord(
  db: Db,
  tenantId: string,
  next: RecordInput,
  current: CustomerRecord | undefined,
  defaultCycle: BillingCycle,
  tags: QueryTags,
  /** Tests only: runs between the check for exports and the save, where a close run can write lines. */
  beforeSave?: () => Promise<void>,
): Promise<SaveOutcome> {
  const before = cycleOf(current, defaultCycle);
  const moved = !sameCycle(before, next);
  const { customerId } = next;
  if (moved && (await customerHasExports(db, { tenantId, customerId }, tags)) > 0) return { refused: 'exported' };
  await beforeSave?.();
  const engineMs = async () => (await engineNow(db, {}, tags))[0]!.nowMs;
  const createdAtMs = current ? Date.parse(current.createdAt) : Date.now();
  const movedAtMs = moved ? await engineMs() : (current?.cycleMovedAtMs ?? 0);
  const saved = await saveCustomer(db, tenantId, { ...next, cycleMovedAtMs: movedAtMs }, createdAtMs);
  if (!moved || (await linesBeforeMove(db, { tenantId, customerId, movedAtMs }, tags)) === 0) return { saved };
  const undo = current ?? { customerId, name: '', allowances: {} };
  await saveCustomer(db, tenantId, { ...undo, ...before, customerId, cycleMovedAtMs: await engineMs() }, createdAtMs);
  return { refused: 'billed-meanwhile' };
}
