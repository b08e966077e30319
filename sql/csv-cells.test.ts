import { describe, expect, it } from 'vitest';
import { csvText, csvTextSql } from './csv-cells.js';

describe('csvText', () => {
  it('prefixes one quote to text that a spreadsheet would run, and to text starting with a quote (so one strip is exact)', () => {
    for (const s of ['=HYPERLINK("http://x","y")', '+1', '-cmd', '@SUM(A1)', '\tx', '\rx', "'quoted"]) expect(csvText(s)).toBe(`'${s}`);
    for (const s of ['acme', 'a=b', '', '1-2']) expect(csvText(s)).toBe(s);
  });

  it('renders the same rule for the engine', () => {
    expect(csvTextSql('customer_id')).toBe(
      "if(substring(customer_id, 1, 1) IN ('=', '+', '-', '@', '\\t', '\\r', '\\''), concat('\\'', customer_id), customer_id)",
    );
  });
});
