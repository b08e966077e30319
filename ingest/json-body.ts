import { parse } from 'lossless-json';

/**
 * A JSON number as the client wrote it. JSON.parse turns every number into a
 * float, so 9007199254740993 would silently become 9007199254740992; the
 * request body is parsed keeping each number's source text instead
 * (lossless-json), and each field decides how to read it.
 */
export class JsonNumber {
  constructor(readonly text: string) {}
  toJSON(): number {
    return Number(this.text);
  }
}

export type JsonBody = { ok: true; value: unknown } | { ok: false; code: 'invalid_utf8' | 'invalid_json'; message: string };

// fatal: a byte sequence that is not UTF-8 is an error, never a U+FFFD that could make two event ids equal.
const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Parse a request body exactly: invalid UTF-8 and duplicate object keys with
 * different values (JSON.parse keeps the last one silently) are refused, and
 * numbers keep their source text (JsonNumber).
 */
export function parseJsonBody(bytes: Uint8Array): JsonBody {
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    return { ok: false, code: 'invalid_utf8', message: 'the body is not valid UTF-8' };
  }
  try {
    return { ok: true, value: parse(text, null, (source) => new JsonNumber(source)) };
  } catch (error) {
    // lossless-json's messages name a position and a reason ("Duplicate key 'a' encountered at position 8"), never row data beyond a key.
    const reason = error instanceof Error && /^Duplicate key/.test(error.message) ? `: ${error.message}` : '';
    return { ok: false, code: 'invalid_json', message: `the body is not valid JSON${reason}` };
  }
}

/** A copy of a parsed value with every JsonNumber as a JS number (for fields where only the type matters); own keys, `__proto__` included, are kept. */
export function withPlainNumbers(value: unknown): unknown {
  if (value instanceof JsonNumber) return Number(value.text);
  if (Array.isArray(value)) return value.map(withPlainNumbers);
  if (typeof value === 'object' && value !== null) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, withPlainNumbers(v)]));
  return value;
}
