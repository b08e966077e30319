/**
 * Spreadsheet formula injection (OWASP "CSV Injection"): a CSV cell starting
 * with = + - @ tab or CR is run as a formula by spreadsheet programs. Every
 * text cell of a CSV meterhouse writes (ids, dimension values, header names)
 * that starts with one of them, or with a single quote, gets one single quote
 * in front; number cells (values, event counts, a negative adjustment such as
 * -5.5) are never touched. A reader recovers the exact text by removing one
 * leading quote from a text cell that has one; JSONL and Parquet are never
 * escaped (and the export checksum covers the JSONL).
 */
export const FORMULA_TRIGGERS = ['=', '+', '-', '@', '\t', '\r', "'"] as const;

/** A text cell as written to CSV. */
export function csvText(text: string): string {
  return (FORMULA_TRIGGERS as readonly string[]).includes(text.charAt(0)) ? `'${text}` : text;
}

const sqlLiteral = (c: string) => `'${c.replace(/\\/g, '\\\\').replace(/'/g, "\\'").replace(/\t/g, '\\t').replace(/\r/g, '\\r')}'`;

/** The same, as an engine expression over a String column (an allow-listed identifier). */
export function csvTextSql(column: string): string {
  return `if(substring(${column}, 1, 1) IN (${FORMULA_TRIGGERS.map(sqlLiteral).join(', ')}), concat('\\'', ${column}), ${column})`;
}
