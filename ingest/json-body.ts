import { parse } from 'lossless-json';

/**
 * A JSON number as the client wrote it. JSON.parse turns every number into a
 * float, so 9007199254740993 would silently become 9007199254740992; the
 * request body is parsed keeping each number's source text instead
 * (lossless-json, or JSON.parse where that is provably the same:
 * parsedNatively), and each field decides how to read it.
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
  const plain = parsedNatively(text);
  if (plain !== undefined) return { ok: true, value: plain.value };
  try {
    return { ok: true, value: parse(text, null, (source) => new JsonNumber(source)) };
  } catch (error) {
    // lossless-json's messages name a position and a reason ("Duplicate key 'a' encountered at position 8"), never row data beyond a key.
    const reason = error instanceof Error && /^Duplicate key/.test(error.message) ? `: ${error.message}` : '';
    return { ok: false, code: 'invalid_json', message: `the body is not valid JSON${reason}` };
  }
}

/**
 * The body parsed by V8's own JSON.parse (native: 1.9-2.0 CPU s per 1M of the bench's events in their 5,000-event
 * bodies, with this check and walk, against 3.7-4.0 for lossless-json; docs/benchmarks.md), when
 * its answer is provably the one lossless-json gives; undefined when it may not be, and the caller parses again with
 * lossless-json, which refuses or keeps what JSON.parse would change. One pass over the text outside its strings
 * shows two facts:
 * - every number is written as JavaScript writes it back (`String(Number(text)) === text`: no `1.50`, `-0`, `1e3`
 *   or `9007199254740993`), so `new JsonNumber(String(n))` holds the client's text exactly;
 * - the object members it counts (one colon outside strings each) equal the keys JSON.parse kept, so no key was
 *   written twice (JSON.parse keeps the last silently; lossless-json refuses different values).
 * Invalid JSON also goes to lossless-json, for its error. `__proto__` stays an own key: JSON.parse defines it as one,
 * and the walk below assigns to that own property, never to the prototype.
 */
export function parsedNatively(text: string): { value: unknown } | undefined {
  const members = canonicalMembers(text);
  if (members === undefined) return undefined;
  const counter = { keys: 0 };
  let value: unknown;
  try {
    // The walk recurses: nesting deeper than the stack throws here too, and lossless-json then answers it.
    value = withJsonNumbers(JSON.parse(text), counter);
  } catch {
    return undefined;
  }
  return counter.keys === members ? { value } : undefined;
}

/** Colons outside strings (one per object member), or undefined at a number JS would write differently or an unterminated string. */
function canonicalMembers(text: string): number | undefined {
  let members = 0;
  const n = text.length;
  let i = 0;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      // A string ends at the first quote after it not escaped: preceded by an even number of backslashes.
      let end = text.indexOf('"', i + 1);
      while (end !== -1) {
        let b = end - 1;
        while (text.charCodeAt(b) === 0x5c) b--;
        if ((end - 1 - b) % 2 === 0) break;
        end = text.indexOf('"', end + 1);
      }
      if (end === -1) return undefined;
      i = end + 1;
    } else if (c === 0x3a) {
      members++;
      i++;
    } else if (c === 0x2d || (c >= 0x30 && c <= 0x39)) {
      const start = i;
      let digitsOnly = true;
      for (i++; i < n; i++) {
        const d = text.charCodeAt(i);
        if (d >= 0x30 && d <= 0x39) continue;
        if (d === 0x2e || d === 0x65 || d === 0x45 || d === 0x2b || d === 0x2d) digitsOnly = false;
        else break;
      }
      if (digitsOnly && canonicalInteger(text, start, i)) continue;
      const token = text.slice(start, i);
      if (String(Number(token)) !== token) return undefined;
    } else i++;
  }
  return members;
}

/**
 * Whether text[start, end), digits after an optional minus, is an integer JS writes back as it is, decided without
 * converting it: 1 to 15 digits (below 2^53, so the double is exact and is written in full), no leading zero but "0"
 * itself, and not "-0" (written back as "0"). Anything else (16 digits or more, "-", "007") is left to the conversion.
 * The bench's bodies: the pass over them 0.8-1.2 -> 0.3-0.6 CPU s per 1M events (docs/benchmarks.md).
 */
function canonicalInteger(text: string, start: number, end: number): boolean {
  const first = text.charCodeAt(start) === 0x2d ? start + 1 : start;
  const digits = end - first;
  if (digits < 1 || digits > 15) return false;
  return text.charCodeAt(first) !== 0x30 || (digits === 1 && first === start);
}

/** JSON.parse's value with each number as a JsonNumber of its (canonical) text, in place; counts the objects' keys. */
function withJsonNumbers(value: unknown, counter: { keys: number }): unknown {
  if (typeof value === 'number') return new JsonNumber(String(value));
  if (typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) value[i] = withJsonNumbers(value[i], counter);
    return value;
  }
  const object = value as Record<string, unknown>;
  for (const key in object) {
    counter.keys++;
    const v = object[key];
    if (typeof v === 'number' || (typeof v === 'object' && v !== null)) object[key] = withJsonNumbers(v, counter);
  }
  return object;
}

/** A copy of a parsed value with every JsonNumber as a JS number (for fields where only the type matters); own keys, `__proto__` included, are kept. */
export function withPlainNumbers(value: unknown): unknown {
  if (value instanceof JsonNumber) return Number(value.text);
  if (Array.isArray(value)) return value.map(withPlainNumbers);
  if (typeof value === 'object' && value !== null) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, withPlainNumbers(v)]));
  return value;
}
