import type { EventIssue } from './schema.js';
import type { ValidatedEvent } from './normalise.js';

/**
 * CloudEvents HTTP protocol binding, binary content mode (the default of the
 * official SDKs): each context attribute is a `ce-<name>` header, the body is
 * the event's `data` and Content-Type its `datacontenttype`. This maps such a
 * request onto the structured CloudEvent that `fromCloudEvent` reads, so both
 * modes share one validation and one error vocabulary (paths `id`, `time`,
 * `data.quantity`, ...).
 *
 * Header values are decoded as the binding says (1.0.2, "HTTP Header
 * Values"): a double-quoted value is unquoted, then one round of
 * percent-decoding, then UTF-8. Nothing is guessed: a raw byte outside
 * printable ASCII, a '%' that does not start %XX, or bytes that are not UTF-8
 * are per-event errors at the attribute, never replaced.
 */
const PREFIX = 'ce-';
/** Attributes that binary mode carries elsewhere: the body is `data`, Content-Type is `datacontenttype`. */
const NOT_HEADERS = new Set(['data', 'data_base64', 'datacontenttype']);
const utf8 = new TextDecoder('utf-8', { fatal: true });

export interface BinaryCloudEvent {
  /** Set when the body cannot be this mapping's `data`: only JSON data carries a quantity and dimensions. */
  mediaTypeError?: string;
  /** The structured CloudEvent with the request body (parsed JSON, or undefined when empty) as its data. */
  withData(data: unknown): Record<string, unknown>;
  /** The event's validation result with any header that could not be decoded added to its errors. */
  withHeaderIssues(validated: ValidatedEvent): ValidatedEvent;
}

/** The binary-mode event of a request, or undefined when the request is not one (no `ce-specversion` header). */
export function binaryCloudEvent(headers: Headers): BinaryCloudEvent | undefined {
  const contentType = headers.get('content-type') ?? undefined;
  const mediaType = contentType?.split(';')[0]!.trim().toLowerCase();
  // A cloudevents media type is structured mode, whatever headers come with it.
  if (!headers.has(`${PREFIX}specversion`) || mediaType?.startsWith('application/cloudevents')) return undefined;
  const attributes: Record<string, unknown> = {};
  const issues: EventIssue[] = [];
  headers.forEach((raw, name) => {
    if (!name.startsWith(PREFIX)) return;
    const attribute = name.slice(PREFIX.length);
    if (NOT_HEADERS.has(attribute)) {
      issues.push({ path: attribute, message: `is not sent as a header in binary mode: the body is data and Content-Type is datacontenttype` });
      return;
    }
    const decoded = decodeHeaderValue(raw);
    if ('error' in decoded) issues.push({ path: attribute, message: decoded.error });
    else attributes[attribute] = decoded.value;
  });

  const json = mediaType === undefined || mediaType === 'application/json' || mediaType.endsWith('+json');
  return {
    ...(json
      ? {}
      : { mediaTypeError: `in CloudEvents binary mode the body is the event's data and must be JSON (Content-Type application/json), not ${mediaType}` }),
    withData: (data) => ({ ...attributes, ...(contentType === undefined ? {} : { datacontenttype: contentType }), ...(data === undefined ? {} : { data }) }),
    withHeaderIssues: (validated) =>
      issues.length === 0 ? validated : { index: validated.index, eventId: validated.eventId, errors: [...issues, ...(validated.errors ?? [])] },
  };
}

/** One header value as the binding decodes it, or why it cannot be. */
export function decodeHeaderValue(raw: string): { value: string } | { error: string } {
  // Node hands header bytes over as latin1: a char above 0x7e is a raw non-ASCII byte whose encoding is unknown.
  if (!/^[\x20-\x7e]*$/.test(raw)) return { error: 'must be printable ASCII in a header: percent-encode other characters as UTF-8 (%C3%A9 for é)' };
  let text = raw;
  if (text.length >= 2 && text.startsWith('"') && text.endsWith('"')) {
    const inner = text.slice(1, -1);
    if (/(^|[^\\])(\\\\)*"/.test(inner) || /(^|[^\\])(\\\\)*\\$/.test(inner)) return { error: 'is not a valid quoted string (RFC 7230)' };
    text = inner.replace(/\\(.)/g, '$1');
  }
  const bytes: number[] = [];
  for (let i = 0; i < text.length; i++) {
    if (text[i] !== '%') {
      bytes.push(text.charCodeAt(i));
      continue;
    }
    const hex = text.slice(i + 1, i + 3);
    if (!/^[0-9A-Fa-f]{2}$/.test(hex)) return { error: `has a '%' at character ${i + 1} that does not start a percent-encoded byte (send '%' as %25)` };
    bytes.push(parseInt(hex, 16));
    i += 2;
  }
  try {
    return { value: utf8.decode(new Uint8Array(bytes)) };
  } catch {
    return { error: 'percent-decodes to bytes that are not UTF-8' };
  }
}
