/**
 * Text without control characters (Unicode category Cc: U+0000-U+001F and
 * U+007F-U+009F). Written as plain ranges rather than /\p{Cc}/u so that the
 * same pattern means the same in JS and in the OpenAPI document, whose
 * patterns are ECMA-262 without flags (a `u` flag cannot travel there).
 * Here, in the lowest layer, because meter definitions (sql/queries) use it
 * as well as the API and ingest.
 */
// eslint-disable-next-line no-control-regex -- control characters are exactly what this pattern refuses
export const NO_CONTROL_CHARS = /^[^\x00-\x1f\x7f-\x9f]*$/;
