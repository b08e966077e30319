import type { Db } from '../sql/query.js';
import { exportFile, firstChainedExport, listExports, sha256 } from '../sql/queries/exports.js';

/** The migration that added previous_checksum (sql/migrations.ts). */
const CHAIN_MIGRATION = 14;

export interface ExportChainCheck {
  ok: boolean;
  exports: number;
  head: { sequence: number; checksum: string } | null;
  firstBad?: { id: string; sequence: number; reason: string };
}

const PAGE = 1000;

const headOf = (e: { sequence: number; checksum: string } | null) => e && { sequence: e.sequence, checksum: e.checksum };

/**
 * Recompute a tenant's export ledger: every export's checksum from the lines
 * the engine serves now, sequences 1, 2, 3... without gaps, and each
 * manifest's previous_checksum equal to the checksum of the one before.
 * Exports written before the chain existed (migration 14) carry '' and are
 * accepted only as an unbroken prefix of the ledger written before that
 * migration: once one export is chained, or was written after it, every later
 * one must carry its link (so blanking links does not pass as "legacy").
 */
export async function verifyExports(db: Db, tenantId: string): Promise<ExportChainCheck> {
  const tags = { tenantId, route: 'exports.verify' };
  let previous: { sequence: number; checksum: string; chained: boolean } | null = null;
  let exports = 0;
  const mustChainFrom = (await firstChainedExport(db, { tenantId, chainVersion: CHAIN_MIGRATION }, tags))[0]?.sequence || Infinity;
  for (;;) {
    const page = await listExports(db, { tenantId, afterSequence: previous?.sequence ?? 0, limit: PAGE }, tags);
    for (const m of page) {
      const expected: number = (previous?.sequence ?? 0) + 1;
      const fail = (reason: string): ExportChainCheck => ({ ok: false, exports, head: headOf(previous), firstBad: { id: m.id, sequence: m.sequence, reason } });
      if (m.sequence !== expected) return fail(`sequence ${expected} is missing`);
      const chained = m.previousChecksum !== '';
      if (previous && chained && m.previousChecksum !== previous.checksum) return fail('previous_checksum is not the checksum of the export before');
      if (previous && !chained && (previous.chained || m.sequence >= mustChainFrom)) return fail('previous_checksum is empty after a chained export');
      if (!previous && chained) return fail('the first export carries a previous_checksum');
      if (sha256(await exportFile(db, tenantId, m.sequence, 'jsonl', tags)) !== m.checksum) return fail("checksum does not match the export's lines");
      previous = { sequence: m.sequence, checksum: m.checksum, chained };
      exports++;
    }
    if (page.length < PAGE) return { ok: true, exports, head: headOf(previous) };
  }
}
