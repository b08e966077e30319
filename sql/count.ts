import { z } from 'zod';

/**
 * How a 64-bit count (events, rows, parts, bytes) crosses into JS: the engine
 * sends it quoted (output_format_json_quote_64bit_integers) and it becomes a
 * JSON number in the API. A count fits a double exactly below 2^53 (9e15,
 * far beyond any real table); above that it fails loudly, never rounded.
 */
const TOO_LARGE = 'is a count of 2^53 or more, which a JSON number cannot carry exactly';

export const count = z.coerce.number().int().refine(Number.isSafeInteger, TOO_LARGE);

/**
 * The same rule inside a statement, for counts the API passes through without
 * parsing them (the usage summary's rows): 1 when `column` fits, otherwise the
 * statement fails with the rule's message. `column` is an identifier the
 * caller writes, never input.
 */
export const countFitsJson = (column: string) => `throwIf(${column} >= 9007199254740992, '${column} ${TOO_LARGE}') = 0`;

/**
 * A read stopped by countFitsJson. Not a StorageError: storage is fine and a
 * retry fails the same way, so the API answers 500 as for a count refused by
 * `count`. Made without the engine's error, whose message is not logged.
 */
export class CountTooLargeError extends Error {
  override readonly name = 'CountTooLargeError';
  constructor(operation: string) {
    super(`${operation}: a value of the answer ${TOO_LARGE}`);
  }
}

export function countTooLarge(operation: string, error: unknown): CountTooLargeError | undefined {
  return error instanceof Error && error.message.includes(TOO_LARGE) ? new CountTooLargeError(operation) : undefined;
}
