/** Plain-text output of the CLI (--json prints the same values as JSON). */

export function printTable(rows: readonly object[], columns: readonly string[]): string {
  if (rows.length === 0) return '(none)';
  const cells = rows.map((r) => columns.map((c) => String((r as Record<string, unknown>)[c] ?? '')));
  const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((row) => row[i]!.length)));
  const line = (values: readonly string[]) =>
    values
      .map((v, i) => v.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return [line(columns), ...cells.map(line)].join('\n');
}

/** A secret, on a line of its own, once. */
export function printKey(keyId: string, secret: string): string {
  return `key id ${keyId}\n\n    ${secret}\n\nStore it now: it is not shown again.`;
}

export function printStatus(s: {
  database: string;
  tables: readonly object[];
  tenants: readonly { tenantId: string; name: string; lastExport: { sequence: number; createdAt: string } | null }[];
  rollups: { reconciledUntil: string | null; tiersFilling: readonly { tier: string; completeFrom: string }[] };
}): string {
  const tenants = s.tenants.map((t) => ({
    tenantId: t.tenantId,
    name: t.name,
    lastExport: t.lastExport ? `#${t.lastExport.sequence} at ${t.lastExport.createdAt}` : '-',
  }));
  const { reconciledUntil, tiersFilling } = s.rollups;
  const rollups = [
    reconciledUntil ? `rollups reconciled for rows stored before ${reconciledUntil}` : 'rollups: the next reconciliation is a full pass',
    ...tiersFilling.map((t) => `${t.tier} rollups being filled: read only from ${t.completeFrom} until that pass ends`),
  ].join('\n');
  return `database ${s.database}\n${rollups}\n\n${printTable(s.tables, ['table', 'engine', 'rows'])}\n\n${printTable(tenants, ['tenantId', 'name', 'lastExport'])}`;
}

type Check = { ok: boolean; firstBad?: { id: string; sequence: number; reason: string } | undefined };

export function printChecks(results: readonly { tenantId: string; audit: Check & { rows: number }; exports: Check & { exports: number } }[]): string {
  const say = (c: Check, what: string) => (c.ok ? `${what} ok` : `${what} BROKEN at #${c.firstBad!.sequence} (${c.firstBad!.id}): ${c.firstBad!.reason}`);
  return (
    results.map((r) => `${r.tenantId}: ${say(r.audit, `audit (${r.audit.rows} rows)`)}; ${say(r.exports, `exports (${r.exports.exports})`)}`).join('\n') ||
    '(no tenants)'
  );
}
