/**
 * Exact decimals for people: the API's decimal strings are grouped and
 * punctuated for the reader's locale without ever passing through a float,
 * so no billable digit is rounded away (a float keeps ~15-17 significant digits).
 */
export function formatDecimal(value: string | number, locale?: string): string {
  const text = String(value);
  const m = /^(-?)(\d+)(?:\.(\d+))?$/.exec(text);
  if (!m) return text;
  const [, sign, whole, fraction] = m;
  const grouped = BigInt(whole!).toLocaleString(locale);
  const separator = new Intl.NumberFormat(locale).formatToParts(1.5).find((p) => p.type === 'decimal')?.value ?? '.';
  const minus = sign ? (new Intl.NumberFormat(locale).formatToParts(-1).find((p) => p.type === 'minusSign')?.value ?? '-') : '';
  return `${minus}${grouped}${fraction ? `${separator}${fraction}` : ''}`;
}

/** A period's dates in the customer's zone, the end shown as the last day it includes ([start, end) is half-open). */
export function formatPeriod(startIso: string, endIso: string, timeZone: string, locale?: string): string {
  const f = new Intl.DateTimeFormat(locale, { timeZone, year: 'numeric', month: 'short', day: 'numeric' });
  return `${f.format(new Date(startIso))} – ${f.format(new Date(Date.parse(endIso) - 1))}`;
}

/** "updated 5 s ago" style text, coarse past a minute. */
export function formatAge(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s ago`;
  const m = Math.floor(s / 60);
  return m < 60 ? `${m} min ago` : `${Math.floor(m / 60)} h ago`;
}

/** A ratio's decimal string ("0.600000001") as a percentage truncated to 2 decimals ("60"), by moving the point, never through a float. */
export function ratioAsPercent(ratio: string): string {
  const m = /^(-?)(\d+)(?:\.(\d+))?$/.exec(ratio);
  if (!m) return ratio;
  const [, sign, whole, fraction = ''] = m;
  const f4 = fraction.padEnd(4, '0');
  const int = `${whole}${f4.slice(0, 2)}`.replace(/^0+(?=\d)/, '');
  const frac = f4.slice(2, 4).replace(/0+$/, '');
  return `${sign}${int}${frac ? `.${frac}` : ''}`;
}
