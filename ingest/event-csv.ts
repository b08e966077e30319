import type { EventRow } from './normalise.js';

/**
 * The writer's event rows as CSV for the embedded engine's insert.
 *
 * Why CSV: the engine parses it with less work than JSONEachRow (1M of the bench's events in 25,000-row inserts
 * into usage_events without views: 4.5 s against 7.3-7.4 s), and these lines cost Node less to make than
 * JSON.stringify of the rows (2.0-2.1 against 3.2-3.3 s per 1M). chdb's insert takes text formats only, so
 * RowBinary is not on offer. Figures, and what it changed over HTTP: docs/benchmarks.md.
 *
 * Exactness: every value is stored as the JSON insert stores it, or the insert fails (never a changed value).
 * - Text: always in double quotes, a quote doubled; every other character as it is (commas, CR, tabs, NUL,
 *   backslashes), which CSV keeps inside quotes. The writer never sends ill-formed UTF-16 (ingest/text.ts), so
 *   each string's UTF-8 is its exact bytes. Not a line feed: chdb's insert (26.7) fails a payload with two line
 *   feeds in a row, inside quotes too (the engine reports the data ending there, mid-row), so a batch with a
 *   line feed in any text goes as JSON.
 * - Times: `YYYY-MM-DD hh:mm:ss.sss` in UTC, the columns' time zone (digits alone are ambiguous in text: the
 *   engine reads a short run of them as a date, not as milliseconds).
 * - Quantities: the normaliser's exact decimal text, digits, one point and a sign only.
 * - Dimensions: the Map's text form `{'key':'value'}` (backslash and single quote escaped with a backslash),
 *   as one quoted CSV field.
 * EVENT_CSV_SETTINGS pins how the engine reads it, so no server default can reinterpret a field.
 * test/event-csv.test.ts stores hostile rows both ways and compares every column.
 */
export const EVENT_CSV_COLUMNS = [
  'tenant_id',
  'event_id',
  'customer_id',
  'product_id',
  'metric_name',
  'timestamp',
  'quantity',
  'dimensions',
  'source',
  'source_version',
  'request_id',
  'ingested_at',
] as const;

/** The engine's CSV reading, pinned: one form of each field, nothing trimmed, defaulted, skipped or guessed. */
export const EVENT_CSV_SETTINGS = {
  format_csv_delimiter: ',',
  format_csv_allow_double_quotes: 1,
  format_csv_allow_single_quotes: 0,
  input_format_csv_empty_as_default: 0,
  input_format_csv_trim_whitespaces: 0,
  input_format_csv_allow_whitespace_or_tab_as_delimiter: 0,
  input_format_csv_allow_variable_number_of_columns: 0,
  input_format_csv_use_default_on_bad_values: 0,
  input_format_csv_detect_header: 0,
  input_format_csv_skip_first_lines: 0,
  input_format_csv_skip_trailing_empty_lines: 0,
  date_time_input_format: 'basic',
  input_format_allow_errors_num: 0,
  input_format_allow_errors_ratio: 0,
} as const;

/** Text in double quotes, a double quote doubled. */
const quoted = (text: string): string => (text.includes('"') ? `"${text.replaceAll('"', '""')}"` : `"${text}"`);

/** A Map key or value in the Map's text form: in single quotes, a backslash or single quote after a backslash. */
const mapText = (text: string): string =>
  text.includes('\\') || text.includes("'") ? `'${text.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'` : `'${text}'`;

function dimensionsText(dimensions: Record<string, string>): string {
  let text = '';
  for (const key in dimensions) {
    if (!Object.hasOwn(dimensions, key)) continue;
    text += `${text === '' ? '' : ','}${mapText(key)}:${mapText(dimensions[key]!)}`;
  }
  return quoted(`{${text}}`);
}

const DECIMAL = /^-?\d+(\.\d+)?$/;
const DAY_MS = 86_400_000;
const MAX_MS = Date.UTC(10_000, 0, 1);
const carried = (ms: number) => Number.isSafeInteger(ms) && ms >= 0 && ms < MAX_MS;
const pad = (n: number, width: number) => String(n).padStart(width, '0');
const TWO = Array.from({ length: 60 }, (_, n) => pad(n, 2));
const THREE = Array.from({ length: 1000 }, (_, n) => pad(n, 3));
/** `YYYY-MM-DD ` of recent days (a backfill's spread), so a time costs no Date. */
const dayPrefixes = new Map<number, string>();

/** Epoch milliseconds (1970 to 9999) as `YYYY-MM-DD hh:mm:ss.sss`, UTC. */
function timeText(ms: number): string {
  const day = Math.floor(ms / DAY_MS);
  let prefix = dayPrefixes.get(day);
  if (prefix === undefined) {
    if (dayPrefixes.size >= 4_096) dayPrefixes.clear();
    prefix = `${new Date(day * DAY_MS).toISOString().slice(0, 10)} `;
    dayPrefixes.set(day, prefix);
  }
  let rest = ms - day * DAY_MS;
  const milli = rest % 1000;
  rest = (rest - milli) / 1000;
  const second = rest % 60;
  rest = (rest - second) / 60;
  const minute = rest % 60;
  return `${prefix}${TWO[(rest - minute) / 60]}:${TWO[minute]}:${TWO[second]}.${THREE[milli]}`;
}

/**
 * One CSV line per row, in EVENT_CSV_COLUMNS' order; undefined when a row holds a line feed in its text, or a
 * time or quantity not in the normaliser's forms (the caller then inserts the batch as JSON, which stores or
 * refuses it as it always did). Each line is written into the buffer as it is made: no text of the whole batch
 * is ever held (a string of 25,000 lines costs more in garbage collection than in making it).
 */
export function eventsCsv(rows: readonly EventRow[]): Buffer | undefined {
  let buffer = Buffer.allocUnsafe(Math.max(4_096, rows.length * 256));
  let length = 0;
  for (const r of rows) {
    if (!carried(r.timestamp) || !carried(r.ingested_at) || !DECIMAL.test(r.quantity)) return undefined;
    const line = `${quoted(r.tenant_id)},${quoted(r.event_id)},${quoted(r.customer_id)},${quoted(r.product_id)},${quoted(r.metric_name)},${timeText(r.timestamp)},${r.quantity},${dimensionsText(r.dimensions)},${quoted(r.source)},${quoted(r.source_version)},${quoted(r.request_id)},${timeText(r.ingested_at)}\n`;
    // One line feed, the line's end: any other is in the row's text.
    if (line.indexOf('\n') !== line.length - 1) return undefined;
    // A UTF-16 code unit is at most 3 bytes of UTF-8.
    if (buffer.length - length < line.length * 3) {
      const larger = Buffer.allocUnsafe(Math.max(buffer.length * 2, length + line.length * 3));
      buffer.copy(larger, 0, 0, length);
      buffer = larger;
    }
    length += buffer.write(line, length, 'utf8');
  }
  return buffer.subarray(0, length);
}
