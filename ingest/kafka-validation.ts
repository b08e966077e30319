import { z } from 'zod';
import { EVENT_LIMITS, METRIC_NAME, RESERVED_DIMENSION_KEY } from './schema.js';
import { FRACTION_DIGITS, INTEGER_DIGITS } from './decimal.js';
import { tooOldMessage } from '../domain/retention.js';
import { MAX_EPOCH_MS, MIN_EPOCH_MS } from './time.js';

/**
 * The event contract checked in SQL, for messages that arrive through Kafka.
 *
 * The API validates with zod (ingest/schema.ts, ingest/normalise.ts); a
 * message in the topic is validated here, inside the materialized views, so
 * that a service producing straight into the topic gets the same outcome as
 * one calling the API: every rule below mirrors one in those modules and
 * test/kafka-validation.test.ts runs one corpus through both and compares.
 * All checks are collected (not just the first), as the API does.
 *
 * Only constants of ours are spliced into this SQL (limits, regexes, field
 * names); the message itself is a column.
 */

export const MESSAGE_FIELDS = ['tenantId', 'eventId', 'timestamp', 'customerId', 'productId', 'metricName', 'quantity', 'dimensions', 'metadata'] as const;
const METADATA_FIELDS = ['source', 'version', 'requestId'] as const;
const MAX_SAFE_INTEGER = Number.MAX_SAFE_INTEGER;
export const TENANT_ID_MAX = 128;

const literal = (text: string) => `'${text.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
const list = (items: readonly string[]) => `[${items.map(literal).join(', ')}]`;
// The same RFC 3339 pattern zod uses for timestamps (re2 accepts it as is).
const RFC3339 = z.iso.datetime({ offset: true })._zod.pattern!.source;
const DECIMAL = '^([+-]?)(\\d+)(?:\\.(\\d+))?$';

/** Length in characters (code points), as zod's `.max()` counts them. */
const chars = (s: string) => `lengthUTF8(${s})`;
const hasControl = (s: string) => `match(${s}, '\\\\p{Cc}')`;
// A lone surrogate escape ("\udfff") decodes to bytes that are not UTF-8 (a lone "\ud800" already fails isValidJSON).
const notUnicode = (s: string) => `NOT isValidUTF8(${s})`;
const NOT_UNICODE = 'must be valid Unicode text (it contains a lone UTF-16 surrogate)';
// A key given twice with different values (JSON.parse would keep the last silently; the API refuses such a body,
// and, as lossless-json does, takes a key repeated with the same value): fewer distinct keys than distinct pairs.
// Counted without building the distinct arrays, and the pairs only when some key repeats (rare; lazy after AND).
const repeatedKeys = (pairs: string) => {
  const keys = `arrayMap(kv -> kv.1, ${pairs})`;
  return `(arrayUniq(${keys}) != length(${pairs}) AND arrayUniq(${keys}) != arrayUniq(${keys}, arrayMap(kv -> kv.2, ${pairs})))`;
};
const check = (failed: string, message: string) => `if(${failed}, ${literal(message)}, '')`;

/** Checks of a printable text value `s` at `path` (ingest/schema.ts `printable`), as error strings ('' = fine). */
function printableChecks(path: string, s: string, max: number): string[] {
  return [
    check(`${s} = ''`, `${path}: must not be empty`),
    check(`${chars(s)} > ${max}`, `${path}: must be at most ${max} characters`),
    check(hasControl(s), `${path}: must not contain control characters`),
    check(notUnicode(s), `${path}: ${NOT_UNICODE}`),
  ];
}

/**
 * What the checks read of a message, each spelt once, as a column of an inner SELECT (`facts`). With the
 * contract's errors computed for every message (not in a lazy branch: see `error` below), every fact has
 * an eager use and the engine computes it once per message, shared by all the checks that read it. The
 * engine evaluates the branches of `if`, `multiIf` and `AND` lazily, and an expression reached only
 * through lazy branches is computed again in each: the error column alone cost 40 µs per message that
 * way, 13.5 µs now (docs/benchmarks.md, "Kafka path").
 */
class Facts {
  private readonly columns = new Map<string, string>();
  /** The column holding `expression`, named `f_<name>`. */
  of(name: string, expression: string): string {
    const column = `f_${name}`;
    const known = this.columns.get(column);
    if (known !== undefined && known !== expression) throw new Error(`fact ${column} spelt two ways`);
    this.columns.set(column, expression);
    return column;
  }
  select(): string {
    return [...this.columns].map(([column, expression]) => `${expression} AS ${column}`).join(',\n      ');
  }
}

/** A string field at `path`: whether it is there, its JSON type and its value (facts of the message). */
function stringField(facts: Facts, json: string, path: string[]) {
  const at = path.map(literal).join(', ');
  const name = path.join('_');
  return {
    present: facts.of(`has_${name}`, `JSONHas(${json}, ${at})`),
    isString: `${facts.of(`type_${name}`, `JSONType(${json}, ${at})`)} = 'String'`,
    value: facts.of(`str_${name}`, `JSONExtractString(${json}, ${at})`),
  };
}

/** Checks of a string field: its JSON type, then (only if it is a string) its content. */
function stringFieldChecks(facts: Facts, json: string, path: string[], max: number, required: boolean): string[] {
  const name = path.join('.');
  const { present, isString, value } = stringField(facts, json, path);
  return [
    ...(required ? [check(`NOT ${present}`, `${name}: is required`)] : []),
    check(`${present} AND NOT ${isString}`, `${name}: must be a string`),
    ...printableChecks(name, value, max).map((c) => `if(${present} AND ${isString}, ${c}, '')`),
  ];
}

/**
 * SELECT of the parsed event and its `error` ('' when valid) from `source`,
 * a relation with columns message, topic, partition, offset, message_time
 * (the Kafka message timestamp, used as receive time) and kafka_error.
 */
export function validatedEventsSelect(source: string, opts: { tenantsTable: string; maxFutureSkewMs: number; maxAgeMs?: number | undefined }): string {
  const m = 'message';
  const receivedMs = 'received_ms';
  const facts = new Facts();
  const fact = (name: string, expression: string) => facts.of(name, expression);
  const tenant = stringField(facts, m, ['tenantId']);
  const metricName = stringField(facts, m, ['metricName']);
  const has = (key: string) => fact(`has_${key}`, `JSONHas(${m}, ${literal(key)})`);
  const type = (key: string) => fact(`type_${key}`, `JSONType(${m}, ${literal(key)})`);
  const ts = fact('str_timestamp', `JSONExtractString(${m}, 'timestamp')`);
  const tsFloat = fact('float_timestamp', `JSONExtractFloat(${m}, 'timestamp')`);
  const tsType = type('timestamp');
  const qType = type('quantity');
  // A JSON-number quantity is read from its source text: the engine's JSON parser turns it into a float
  // (JSONExtractRaw spells 9007199254740993.0 as 9007199254740992). Inside a JSON string a quote is escaped,
  // so `"quantity":` followed by a digit is the key itself, or a nested key of a message refused anyway.
  // A key spelt with escapes ("quant\\u0069ty") has no source text here: refused rather than read through a float.
  const qText = fact(
    'text_quantity',
    `if(JSONType(${m}, 'quantity') = 'String', JSONExtractString(${m}, 'quantity'), extract(${m}, ${literal('"quantity"\\s*:\\s*(-?[0-9][0-9.eE+-]*)')}))`,
  );
  const dims = fact('pairs_dimensions', `JSONExtractKeysAndValuesRaw(${m}, 'dimensions')`);
  const scalar = `('String', 'Int64', 'UInt64', 'Double')`;

  const errors = [
    ...stringFieldChecks(facts, m, ['tenantId'], TENANT_ID_MAX, true),
    check(`${tenant.isString} AND ${tenant.value} != '' AND NOT known_tenant`, 'tenantId: is not a known tenant'),
    `arrayStringConcat(arrayMap(k -> concat(k, ': is not a field of the event contract'), arrayFilter(k -> NOT has(${list(MESSAGE_FIELDS)}, k), ${fact('keys', `JSONExtractKeys(${m})`)})), '; ')`,
    ...stringFieldChecks(facts, m, ['eventId'], EVENT_LIMITS.idLength, true),
    ...stringFieldChecks(facts, m, ['customerId'], EVENT_LIMITS.idLength, true),
    ...stringFieldChecks(facts, m, ['productId'], EVENT_LIMITS.idLength, false),
    ...stringFieldChecks(facts, m, ['metricName'], EVENT_LIMITS.metricNameLength, true),
    check(
      `${metricName.isString} AND ${metricName.value} != '' AND NOT match(${metricName.value}, ${literal(METRIC_NAME.source)})`,
      'metricName: must start with a letter or digit and contain only letters, digits and _ . : / -',
    ),
    // timestamp: optional; epoch ms (integer, or a digit string) or RFC 3339 with offset.
    check(`${has('timestamp')} AND ${tsType} NOT IN ${scalar}`, 'timestamp: must be a number or a string'),
    check(
      `${has('timestamp')} AND ${tsType} IN ${scalar} AND ts_ms IS NULL`,
      'timestamp: is not a valid instant (epoch milliseconds up to 2^53, or an RFC 3339 date-time with offset)',
    ),
    check(`ts_ms IS NOT NULL AND (ts_ms < ${MIN_EPOCH_MS} OR ts_ms >= ${MAX_EPOCH_MS})`, 'timestamp: is out of range (1970-01-01 to 2261-12-31)'),
    check(
      `ts_ms IS NOT NULL AND ts_ms <= ${MAX_EPOCH_MS} AND ts_ms > ${receivedMs} + ${opts.maxFutureSkewMs}`,
      `timestamp: is more than ${Math.round(opts.maxFutureSkewMs / 1000)} s in the future`,
    ),
    ...(opts.maxAgeMs === undefined
      ? []
      : [check(`ts_ms IS NOT NULL AND ts_ms >= ${MIN_EPOCH_MS} AND ts_ms < ${receivedMs} - ${opts.maxAgeMs}`, `timestamp: ${tooOldMessage(opts.maxAgeMs)}`)]),
    // quantity: optional; a decimal number or string, at most 29 integer and 9 fraction digits, not negative.
    check(`${has('quantity')} AND ${qType} NOT IN ${scalar}`, 'quantity: must be a number or a string'),
    check(
      `${has('quantity')} AND ${qType} IN ${scalar} AND quantity_text IS NULL`,
      'quantity: must be a decimal number such as "12" or "0.25" (no exponent, no spaces)',
    ),
    check(`quantity_text IS NOT NULL AND length(q_frac) > ${FRACTION_DIGITS}`, `quantity: has more than ${FRACTION_DIGITS} fraction digits`),
    check(`quantity_text IS NOT NULL AND length(q_int) > ${INTEGER_DIGITS}`, `quantity: has more than ${INTEGER_DIGITS} integer digits`),
    check(`quantity_text IS NOT NULL AND q_parts[1] = '-' AND NOT (q_int = '0' AND q_frac = '')`, 'quantity: must not be negative'),
    // dimensions: optional object of at most 50 printable keys to strings without control characters.
    check(`${has('dimensions')} AND ${type('dimensions')} != 'Object'`, 'dimensions: must be an object'),
    check(`length(${dims}) > ${EVENT_LIMITS.dimensionCount}`, `dimensions: must have at most ${EVENT_LIMITS.dimensionCount} keys`),
    `arrayStringConcat(arrayFilter(e -> e != '', arrayMap(kv -> multiIf(
        kv.1 = ${literal(RESERVED_DIMENSION_KEY)}, concat('dimensions.', kv.1, ': is a reserved name, not allowed as a dimension key'),
        kv.1 = '', concat('dimensions.', kv.1, ': must not be empty'),
        ${notUnicode('kv.1')}, 'dimensions: a key ${NOT_UNICODE}',
        ${chars('kv.1')} > ${EVENT_LIMITS.dimensionKeyLength}, concat('dimensions.', kv.1, ': must be at most ${EVENT_LIMITS.dimensionKeyLength} characters'),
        ${hasControl('kv.1')}, 'dimensions: a key must not contain control characters',
        NOT startsWith(kv.2, '"'), concat('dimensions.', kv.1, ': must be a string'),
        ${chars('JSONExtractString(kv.2)')} > ${EVENT_LIMITS.dimensionValueLength}, concat('dimensions.', kv.1, ': must be at most ${EVENT_LIMITS.dimensionValueLength} characters'),
        ${hasControl('JSONExtractString(kv.2)')}, concat('dimensions.', kv.1, ': must not contain control characters'),
        ${notUnicode('JSONExtractString(kv.2)')}, concat('dimensions.', kv.1, ': ${NOT_UNICODE}'),
        ''), ${dims})), '; ')`,
    // metadata: optional object with source, version and requestId only.
    check(`${has('metadata')} AND ${type('metadata')} != 'Object'`, 'metadata: must be an object'),
    `arrayStringConcat(arrayMap(k -> concat('metadata.', k, ': is not a field of the event contract'), arrayFilter(k -> NOT has(${list(METADATA_FIELDS)}, k), ${fact('keys_metadata', `JSONExtractKeys(${m}, 'metadata')`)})), '; ')`,
    ...METADATA_FIELDS.flatMap((f) => stringFieldChecks(facts, m, ['metadata', f], EVENT_LIMITS.metadataLength, false)),
  ];

  // The message's own shape first; the contract's errors only when its shape is sound. Both are computed for
  // every message and one is picked by index, not by if(), so that the checks are not a lazy branch (Facts).
  // They read the facts of a malformed message too: the JSON functions answer defaults there, never throw.
  const structural = `multiIf(
      kafka_error != '', concat('unreadable message: ', kafka_error),
      NOT ${fact('utf8', `isValidUTF8(${m})`)}, 'the message is not valid UTF-8',
      NOT ${fact('json', `isValidJSON(${m})`)}, 'invalid JSON',
      ${fact('type', `JSONType(${m})`)} != 'Object', 'an event must be a JSON object',
      ${repeatedKeys(fact('pairs', `JSONExtractKeysAndValuesRaw(${m})`))} OR ${repeatedKeys(dims)} OR ${repeatedKeys(fact('pairs_metadata', `JSONExtractKeysAndValuesRaw(${m}, 'metadata')`))},
        'invalid JSON: an object has a key twice',
      '')`;
  const contract = `arrayStringConcat(arrayFilter(e -> e != '', [
      ${errors.join(',\n      ')}]), '; ')`;
  const error = `[${contract}, ${structural}][1 + (${structural} != '')]`;

  const str = (path: string[]) => stringField(facts, m, path).value;
  const columns = `SELECT
    message, topic, partition, offset, received_ms,
    multiIf(
      ${tsType} = 'String' AND match(${ts}, '^\\\\d+$'), if(toUInt64OrNull(${ts}) <= ${MAX_SAFE_INTEGER}, toInt64(toUInt64OrNull(${ts})), NULL),
      ${tsType} = 'String' AND match(${ts}, ${literal(RFC3339)}), toUnixTimestamp64Milli(parseDateTime64BestEffortOrNull(${ts}, 3, 'UTC')),
      ${tsType} IN ('Int64', 'UInt64', 'Double'), if(abs(${tsFloat}) <= ${MAX_SAFE_INTEGER} AND ${tsFloat} = floor(${tsFloat}), toInt64(${tsFloat}), NULL),
      NULL) AS ts_ms,
    if(${qType} IN ${scalar},
      multiIf(match(${qText}, ${literal(DECIMAL)}), ${qText},
              -- an exponent form (1.5e-7): exact only if no digit lies beyond the 9th fraction digit (the cast truncates)
              ${qType} != 'String' AND toDecimal256OrNull(${qText}, 40) = toDecimal256OrNull(${qText}, ${FRACTION_DIGITS}),
                toString(toDecimal128OrNull(${qText}, ${FRACTION_DIGITS})),
              NULL),
      NULL) AS quantity_text,
    extractGroups(ifNull(quantity_text, ''), ${literal(DECIMAL)}) AS q_parts,
    replaceRegexpOne(q_parts[2], '^0+(\\d)', '\\1') AS q_int,
    replaceRegexpOne(q_parts[3], '0+$', '') AS q_frac,
    ${tenant.isString} AND ${tenant.value} IN (SELECT tenant_id FROM ${opts.tenantsTable}) AS known_tenant,
    ${error} AS error,
    ${tenant.value} AS tenant_id,
    ${str(['eventId'])} AS event_id,
    ${str(['customerId'])} AS customer_id,
    ${str(['productId'])} AS product_id,
    ${metricName.value} AS metric_name,
    fromUnixTimestamp64Milli(ifNull(ts_ms, ${receivedMs}), 'UTC') AS timestamp,
    if(${has('quantity')}, toDecimal128OrZero(concat(q_int, if(q_frac = '', '', concat('.', q_frac))), 9), toDecimal128(1, 9)) AS quantity,
    mapSort(CAST(JSONExtract(${m}, 'dimensions', 'Map(String, String)'), 'Map(LowCardinality(String), String)')) AS dimensions,
    ${str(['metadata', 'source'])} AS source,
    ${str(['metadata', 'version'])} AS source_version,
    ${str(['metadata', 'requestId'])} AS request_id`;
  return `${columns}
FROM (SELECT *,
      toInt64(ifNull(toUnixTimestamp64Milli(message_time), toUnixTimestamp64Milli(now64(3)))) AS ${receivedMs},
      ${facts.select()}
    FROM ${source})`;
}
