import { StorageError } from '../sql/storage-error.js';

/**
 * ClickHouse error codes that mean "these rows cannot be stored as they are"
 * (their text, type, range or a table constraint), as opposed to the storage
 * being unavailable (connection, memory, timeouts, too many parts), which is
 * worth retrying unchanged.
 */
const DATA_REFUSED = new Set([
  '6', // CANNOT_PARSE_TEXT
  '25', // CANNOT_PARSE_ESCAPE_SEQUENCE (a lone surrogate in JSON)
  '26', // CANNOT_PARSE_QUOTED_STRING
  '27', // CANNOT_PARSE_INPUT_ASSERTION_FAILED
  '38', // CANNOT_PARSE_DATE
  '41', // CANNOT_PARSE_DATETIME
  '53', // TYPE_MISMATCH
  '69', // ARGUMENT_OUT_OF_BOUND
  '70', // CANNOT_CONVERT_TYPE
  '72', // CANNOT_PARSE_NUMBER
  '117', // INCORRECT_DATA
  '131', // TOO_LARGE_STRING_SIZE
  '321', // VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE
  '349', // CANNOT_INSERT_NULL_IN_ORDINARY_COLUMN
  '395', // FUNCTION_THROW_IF_VALUE_IS_NON_ZERO
  '407', // DECIMAL_OVERFLOW
  '469', // VIOLATED_CONSTRAINT
]);

/** Whether the engine refused an insert because of what the rows hold (so some row will never be stored as sent). */
export function refusesData(error: unknown): boolean {
  return error instanceof StorageError && error.clickhouseCode !== undefined && DATA_REFUSED.has(error.clickhouseCode);
}

export type RowResult = { status: 'stored' } | { status: 'refused' } | { status: 'failed'; error: unknown };

const STORED: RowResult = { status: 'stored' };
const REFUSED: RowResult = { status: 'refused' };

/**
 * Insert rows so that a row the engine refuses can never fail the others
 * (nor the other requests sharing a group-committed batch). A batch refused
 * for its data is split in halves and each half inserted again, down to the
 * single rows that are refused: k bad rows among n cost O(k log n) inserts.
 * Any other error (storage unavailable) fails the rows of that insert only.
 * An insert of one block is atomic, so no half is stored twice.
 */
export async function insertIsolating<T>(insert: (rows: readonly T[]) => Promise<void>, rows: readonly T[]): Promise<RowResult[]> {
  if (rows.length === 0) return [];
  try {
    await insert(rows);
    return rows.map(() => STORED);
  } catch (error) {
    if (!refusesData(error)) return rows.map(() => ({ status: 'failed', error }));
    if (rows.length === 1) return [REFUSED];
    const half = Math.ceil(rows.length / 2);
    return [...(await insertIsolating(insert, rows.slice(0, half))), ...(await insertIsolating(insert, rows.slice(half)))];
  }
}
