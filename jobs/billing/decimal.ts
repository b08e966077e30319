/** Exact decimal arithmetic on decimal strings, in integer units of 1e-9 (BigInt: unbounded, like no engine type). */
const SCALE_DIGITS = 9;

export function units(decimal: string): bigint {
  const negative = decimal.startsWith('-');
  const [whole, fraction = ''] = decimal.replace(/^[-+]/, '').split('.');
  const magnitude = BigInt(`${whole}${fraction.padEnd(SCALE_DIGITS, '0')}`);
  return negative ? -magnitude : magnitude;
}

export function decimal(u: bigint): string {
  const digits = (u < 0n ? -u : u).toString().padStart(SCALE_DIGITS + 1, '0');
  const whole = digits.slice(0, -SCALE_DIGITS);
  const fraction = digits.slice(-SCALE_DIGITS).replace(/0+$/, '');
  return `${u < 0n ? '-' : ''}${whole}${fraction ? `.${fraction}` : ''}`;
}
