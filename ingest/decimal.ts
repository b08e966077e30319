/**
 * Quantities are exact decimals: Decimal(38, 9) in storage, strings in JS.
 * Nothing here ever does float arithmetic on a quantity.
 * The bound (29 integer digits) is what makes every sum safe: sums are
 * Decimal(76, 9), which no count of such events can overflow (sql/decimals.ts).
 * The Kafka views check the same bound (ingest/kafka-validation.ts).
 */
export const FRACTION_DIGITS = 9;
export const INTEGER_DIGITS = 29;

const DECIMAL = /^([+-]?)(\d+)(?:\.(\d+))?$/;

export type DecimalResult = { ok: true; value: string } | { ok: false; message: string };

/** The decimal digits of a JS number, without exponent notation, or undefined if it has too many fraction digits. */
function numberToDecimalString(n: number): string | undefined {
  const text = String(n);
  if (!/e/i.test(text)) return text;
  // 1e21 and above are integers: BigInt spells every digit of the float exactly.
  if (Math.abs(n) >= 1) return BigInt(n).toString();
  const fixed = n.toFixed(FRACTION_DIGITS);
  return Number(fixed) === n ? fixed : undefined;
}

// JSON number grammar (RFC 8259), as a client wrote it.
const JSON_NUMBER = /^(-?)(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/;
// Beyond this an exponent cannot give a value of 29 integer and 9 fraction digits (other than zero); bounds the text we build.
const MAX_EXPONENT = 1000;

/** The plain decimal spelling of a JSON number's source text, exponent applied exactly by moving the point. */
function jsonNumberToDecimalString(source: string): string | undefined {
  const m = JSON_NUMBER.exec(source);
  if (!m) return undefined;
  const exponent = Number(m[4] ?? '0');
  if (Math.abs(exponent) > MAX_EXPONENT) return undefined;
  const digits = m[2]! + (m[3] ?? '');
  const point = m[2]!.length + exponent;
  if (point <= 0) return `${m[1]}0.${'0'.repeat(-point)}${digits}`;
  if (point >= digits.length) return `${m[1]}${digits}${'0'.repeat(point - digits.length)}`;
  return `${m[1]}${digits.slice(0, point)}.${digits.slice(point)}`;
}

/**
 * ClickHouse's JSON parser (simdjson, in the Kafka validation views) refuses a
 * whole message holding an integer literal outside [-2^63, 2^64): the API
 * refuses such a quantity too, so both paths agree.
 */
function isBeyond64BitInteger(source: string): boolean {
  if (!/^-?\d+$/.test(source)) return false;
  // Up to 18 digits (a sign aside) is always within [-2^63, 2^64): no BigInt for the common case.
  if (source.length <= 18) return false;
  const n = BigInt(source);
  return n >= TWO_TO_64 || n < MINUS_TWO_TO_63;
}
const TWO_TO_64 = 2n ** 64n;
const MINUS_TWO_TO_63 = -(2n ** 63n);

/**
 * Parse a quantity into a canonical decimal string. It is a decimal string, a
 * JS number, or `{ jsonNumber }`: a JSON number's source text from the request
 * body, read exactly (9007199254740993 stays 9007199254740993).
 */
export function parseDecimal(input: number | string | { jsonNumber: string }): DecimalResult {
  let text: string | undefined;
  if (typeof input === 'object') {
    if (isBeyond64BitInteger(input.jsonNumber)) {
      return {
        ok: false,
        message: 'is an integer JSON number beyond 64 bits, which the Kafka path cannot read: send it as a decimal string to keep every digit',
      };
    }
    text = jsonNumberToDecimalString(input.jsonNumber);
    if (text === undefined) return { ok: false, message: 'must be a decimal number within 29 integer and 9 fraction digits' };
  } else if (typeof input === 'number') {
    if (!Number.isFinite(input)) return { ok: false, message: 'must be a finite number' };
    text = numberToDecimalString(input);
    if (text === undefined) return { ok: false, message: `has more than ${FRACTION_DIGITS} fraction digits` };
  } else {
    text = input;
  }
  const m = DECIMAL.exec(text);
  if (!m) return { ok: false, message: 'must be a decimal number such as "12" or "0.25" (no exponent, no spaces)' };
  const sign = m[1] === '-' ? '-' : '';
  const integer = m[2]!.replace(/^0+(?=\d)/, '');
  const fraction = (m[3] ?? '').replace(/0+$/, '');
  if (fraction.length > FRACTION_DIGITS) {
    return {
      ok: false,
      message: `has more than ${FRACTION_DIGITS} fraction digits${typeof input === 'number' ? ' (send it as a string to keep precision)' : ''}`,
    };
  }
  if (integer.length > INTEGER_DIGITS) return { ok: false, message: `has more than ${INTEGER_DIGITS} integer digits` };
  const zero = integer === '0' && fraction === '';
  return { ok: true, value: `${zero ? '' : sign}${integer}${fraction ? `.${fraction}` : ''}` };
}

export function isNegativeDecimal(value: string): boolean {
  return value.startsWith('-');
}
