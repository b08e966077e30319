/**
 * Text the storage engine keeps exactly. A lone UTF-16 surrogate (a JSON
 * "\ud800" with no partner) is no Unicode text: the engine refuses a high one
 * (ClickHouse code 25) and stores a low one as bytes that are not UTF-8, which
 * read back as something else. So every string is checked before it is
 * stored, and refused with a reason.
 */
// String.prototype.isWellFormed (ES2024, in Node 20): false exactly when the text holds a lone surrogate.
// The project compiles against ES2022's library, hence the type.
type WellFormedCheck = string & { isWellFormed(): boolean };

export function isWellFormed(text: string): boolean {
  return (text as WellFormedCheck).isWellFormed();
}

export const NOT_WELL_FORMED = 'must be valid Unicode text (it contains a lone UTF-16 surrogate)';

/** Paths (dotted, "" for the value itself) of the strings and object keys in a JSON-like value that are not well-formed. */
export function illFormedPaths(value: unknown, path = ''): string[] {
  const at = (key: string) => (path === '' ? key : `${path}.${key}`);
  if (typeof value === 'string') return isWellFormed(value) ? [] : [path];
  if (Array.isArray(value)) return value.flatMap((v, i) => illFormedPaths(v, at(String(i))));
  if (typeof value === 'object' && value !== null) {
    return Object.entries(value).flatMap(([k, v]) => (isWellFormed(k) ? illFormedPaths(v, at(k)) : [at(k)]));
  }
  return [];
}

/** Whether any string or object key in a JSON-like value is not well-formed; allocates nothing (the writer's check of every row). */
export function hasIllFormedText(value: unknown): boolean {
  if (typeof value === 'string') return !isWellFormed(value);
  if (typeof value !== 'object' || value === null) return false;
  if (Array.isArray(value)) {
    for (const v of value) if (hasIllFormedText(v)) return true;
    return false;
  }
  for (const key in value) {
    if (!Object.hasOwn(value, key)) continue;
    if (!isWellFormed(key) || hasIllFormedText((value as Record<string, unknown>)[key])) return true;
  }
  return false;
}
