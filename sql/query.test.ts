import { describe, expect, it } from 'vitest';
import { withSettings } from './query.js';

describe('withSettings', () => {
  it('appends a SETTINGS clause, before a trailing FORMAT', () => {
    expect(withSettings('SELECT 1 LIMIT {n:UInt32}', { max_threads: 2, max_result_rows: 10 })).toBe(
      'SELECT 1 LIMIT {n:UInt32}\nSETTINGS max_threads = 2, max_result_rows = 10',
    );
    expect(withSettings('SELECT 1\nORDER BY x\nFORMAT CSVWithNames', { max_threads: 1, date_time_output_format: 'iso' })).toBe(
      "SELECT 1\nORDER BY x\nSETTINGS max_threads = 1, date_time_output_format = 'iso'\nFORMAT CSVWithNames",
    );
    expect(withSettings('SELECT 1', {})).toBe('SELECT 1');
  });

  it('refuses names that are not setting names and escapes string values', () => {
    expect(() => withSettings('SELECT 1', { 'x = 1; DROP': 1 })).toThrow(/invalid setting name/);
    expect(withSettings('SELECT 1', { log_comment: "it's" })).toBe("SELECT 1\nSETTINGS log_comment = 'it\\'s'");
  });
});
