import { createHash, randomUUID } from 'node:crypto';
import type { Db } from '../sql/query.js';
import { ANY_TIME, auditHead, auditPage, auditRowStored, insertAuditRow, type AuditRow } from '../sql/queries/audit.js';

/** Who made a change: a key id (never a secret), `cli`, or `operator`; the tenant it changed; the request it came in. */
export interface Actor {
  tenantId: string;
  actor: string;
  requestId: string;
}

/** What changed. before/after are JSON-able records of ids and settings: never secrets, never event payloads. */
export interface Change {
  target?: string;
  before?: unknown;
  after?: unknown;
}

export type AuditKind =
  | 'api_key.created'
  | 'api_key.revoked'
  | 'admin_key.recovered'
  | 'tenant.created'
  | 'tenant.updated'
  | 'meter.created'
  | 'meter.updated'
  | 'meter.deleted'
  | 'customer.put'
  | 'correction.voided'
  | 'correction.amended'
  | 'billing.closed'
  | 'webhook.set'
  | 'webhook.deleted'
  | 'dead_letter.replayed'
  | 'portal_link.issued'
  | 'portal_link.revoked'
  | 'sql_console_link.issued'
  | 'sql_console_link.revoked'
  | 'sql.query'
  | 'alert_rule.created'
  | 'alert_rule.updated'
  | 'alert_rule.deleted';

/** The hash of a row: SHA-256 over its fields in a fixed order, the previous row's hash included. */
export function auditHash(r: Omit<AuditRow, 'hash'>): string {
  const fields = [r.tenantId, r.sequence, r.id, r.atMs, r.actor, r.kind, r.requestId, r.target, r.before, r.after, r.previousHash];
  return createHash('sha256').update(JSON.stringify(fields)).digest('hex');
}

const json = (value: unknown) => (value === undefined ? '' : JSON.stringify(value));

/** Appends of one tenant's chain in this process run one at a time (keyed by database, so two logs on one engine agree). */
const tails = new Map<string, Promise<unknown>>();
const CONFLICT_RETRIES = 20;

export interface ChainCheck {
  ok: boolean;
  rows: number;
  /** The last row that fits: record it elsewhere to detect a rewrite of the whole tail later. */
  head: { sequence: number; hash: string } | null;
  /** The first row that does not fit, and why. */
  firstBad?: { id: string; sequence: number; reason: string };
}

/**
 * The append-only, hash-chained audit log (sql/datasets/audit.ts). An append
 * reads the tenant's head, writes the next row, and reads back that its row
 * holds the sequence (another process may have taken it: then it goes again).
 */
export class AuditLog {
  constructor(
    private readonly db: Db,
    private readonly now: () => number = Date.now,
  ) {}

  record(who: Actor, kind: AuditKind, change: Change = {}): Promise<AuditRow> {
    const key = `${this.db.database}/${who.tenantId}`;
    const next = (tails.get(key) ?? Promise.resolve()).catch(() => {}).then(() => this.append(who, kind, change));
    tails.set(key, next);
    void next.finally(() => tails.get(key) === next && tails.delete(key)).catch(() => {});
    return next;
  }

  private async append(who: Actor, kind: AuditKind, change: Change): Promise<AuditRow> {
    const tags = { tenantId: who.tenantId, requestId: who.requestId };
    for (let attempt = 0; attempt < CONFLICT_RETRIES; attempt++) {
      const [head] = await auditHead(this.db, { tenantId: who.tenantId }, tags);
      const unhashed = {
        tenantId: who.tenantId,
        sequence: (head?.sequence ?? 0) + 1,
        id: `aud_${randomUUID().replaceAll('-', '')}`,
        atMs: this.now(),
        actor: who.actor,
        kind,
        requestId: who.requestId,
        target: change.target ?? '',
        before: json(change.before),
        after: json(change.after),
        previousHash: head?.hash ?? '',
      };
      const row = { ...unhashed, hash: auditHash(unhashed) };
      await insertAuditRow(this.db, row, tags);
      if ((await auditRowStored(this.db, { tenantId: who.tenantId, sequence: row.sequence, id: row.id }, tags)) > 0) return row;
    }
    throw new Error(`audit log of tenant ${who.tenantId}: ${CONFLICT_RETRIES} appends lost to concurrent writers`);
  }

  /** Recompute the tenant's chain from its first row; names the first row that does not fit. */
  /** `reader`: the connection to read the chain through (an API request's bounded reader); default the log's own. */
  async verify(tenantId: string, reader: Db = this.db): Promise<ChainCheck> {
    let previous: { sequence: number; hash: string } | null = null;
    let rows = 0;
    let after = { sequence: 0, id: '' };
    for (;;) {
      const page = await auditPage(reader, { tenantId, afterSequence: after.sequence, afterId: after.id, kind: '', ...ANY_TIME, limit: 5000 }, { tenantId });
      for (const row of page) {
        const reason = misfit(row, previous);
        if (reason) return { ok: false, rows, head: previous, firstBad: { id: row.id, sequence: row.sequence, reason } };
        previous = { sequence: row.sequence, hash: row.hash };
        rows++;
      }
      if (page.length < 5000) return { ok: true, rows, head: previous };
      after = { sequence: page.at(-1)!.sequence, id: page.at(-1)!.id };
    }
  }
}

function misfit(row: AuditRow, previous: { sequence: number; hash: string } | null): string | undefined {
  const expected = (previous?.sequence ?? 0) + 1;
  if (row.sequence < expected) return `a second row at sequence ${row.sequence}`;
  if (row.sequence > expected) return `sequence ${expected} is missing`;
  if (row.previousHash !== (previous?.hash ?? '')) return 'previous_hash is not the hash of the row before';
  const { hash, ...rest } = row;
  if (auditHash(rest) !== hash) return "hash does not match the row's contents";
  return undefined;
}
