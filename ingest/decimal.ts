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

/** Parse a quantity given as a JSON number or a decimal string into a canonical decimal string. */
export function parseDecimal(input: number | string): DecimalResult {
  let text: string | undefined;
  if (typeof input === 'number') {
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
    return { ok: false, message: `has more than ${FRACTION_DIGITS} fraction digits${typeof input === 'number' ? ' (send it as a string to keep precision)' : ''}` };
  }
  if (integer.length > INTEGER_DIGITS) return { ok: false, message: `has more than ${INTEGER_DIGITS} integer digits` };
  const zero = integer === '0' && fraction === '';
  return { ok: true, value: `${zero ? '' : sign}${integer}${fraction ? `.${fraction}` : ''}` };
}

export function isNegativeDecimal(value: string): boolean {
  return value.startsWith('-');
}
