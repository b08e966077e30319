import { z } from 'zod';

/**
 * How a 64-bit count (events, rows, parts, bytes) crosses into JS: the engine
 * sends it quoted (output_format_json_quote_64bit_integers) and it becomes a
 * JSON number in the API. A count fits a double exactly below 2^53 (9e15,
 * far beyond any real table); above that it fails loudly, never rounded.
 */
export const count = z.coerce.number().int().refine(Number.isSafeInteger, 'is a count of 2^53 or more, which a JSON number cannot carry exactly');
