import type { ClickHouseClient } from '@clickhouse/client';
import { z } from 'zod';
import { count, countTooLarge } from './count.js';
import { timeSlices } from './slices.js';
import { readLimitError, toStorageError } from './storage-error.js';

/** A ClickHouse client bound to meterhouse's database. */
export interface Db {
  client: ClickHouseClient;
  database: string;
  /** Limits every read through this Db runs under (written into the query's own SETTINGS clause). */
  readLimits?: ReadLimits | undefined;
  /**
   * Settings every read through this Db states besides its limits: BACKGROUND_READS for a job
   * whose reads must not take the CPU from ingest and API reads (backgroundDb).
   */
  readSettings?: Readonly<Record<string, number>> | undefined;
  /**
   * The in-process engine (chdb). chdb's own parameter binding runs one statement at a time per
   * process; meterhouse's connections bind values per connection instead (sql/session-parameters.ts).
   */
  embedded?: boolean | undefined;
  /**
   * Embedded only: hand JSONEachRow bytes straight to the engine's parallel input
   * parser (chdb's Session.insert), instead of the client adapter, which wraps
   * them into one SQL string for the query parser (measured ~2x slower; bench/stages.ts).
   */
  rawInsert?: RawInsert | undefined;
  /**
   * Embedded only: a connection of its own for the writer's identity lookups
   * (sql/queries/event-lookup.ts), so a lookup never queues behind an event
   * insert or an API read on the other connections, and runs beside them.
   */
  lookup?: LookupConnection | undefined;
}

/** Statements without bound parameters on one engine connection (chdb's Session). */
export interface LookupConnection {
  /** A statement whose result is not read. */
  command(sql: string): Promise<void>;
  /** JSONEachRow bytes into `table` (database-qualified). */
  insert(table: string, body: Buffer): Promise<void>;
  /** A read's rows as JSONEachRow text. */
  select(sql: string): Promise<string>;
}

/** Insert JSONEachRow bytes (or, with `csv`, CSV of these columns) into `table` (database-qualified) with these insert settings. */
export type RawInsert = (table: string, body: Buffer, settings: Record<string, string | number>, csv?: CsvColumns) => Promise<void>;

/** A CSV body's columns, in order. */
export interface CsvColumns {
  columns: readonly string[];
}

/** Engine-side bounds (and CPU priority) of one read. Names match ClickHouse's settings. */
export interface ReadLimits {
  max_execution_time: number;
  max_rows_to_read: number;
  max_memory_usage: number;
  max_result_rows: number;
  max_result_bytes: number;
  max_threads: number;
  /** Niceness (0-19) of the read's engine threads: the OS runs ingest's threads first when CPU is short. */
  os_thread_priority: number;
}

/**
 * A background job's reads: one engine thread at the lowest niceness, 19, so ingest's
 * threads (0), API reads (READ_OS_THREAD_PRIORITY, 5 by default) and the embedded
 * engine's merges (ENGINE_MERGE_NICE, 10) get the CPU first, and the job uses what they
 * leave. The engine applies a niceness only with CAP_SYS_NICE (otherwise the setting is
 * a no-op and one thread is the only bound).
 */
export const BACKGROUND_READS = { max_threads: 1, os_thread_priority: 19 } as const;

/** `db` whose reads run as background work (BACKGROUND_READS); its writes are unchanged. */
export function backgroundDb(db: Db): Db {
  return { ...db, readSettings: BACKGROUND_READS };
}

/** Who asked: written into every query's log_comment so system.query_log can find it. */
export interface QueryTags {
  route?: string;
  job?: string;
  tenantId?: string;
  requestId?: string;
}

function settingsFor(name: string, tags: QueryTags) {
  return { log_comment: JSON.stringify({ name, ...tags }) };
}

const SETTING_NAME = /^[a-z_][a-z0-9_]*$/;
const FORMAT_AT_END = /\s+FORMAT\s+\w+\s*$/i;

/**
 * `sql` with `settings` in its own SETTINGS clause (before a trailing FORMAT).
 * Not clickhouse_settings: the embedded adapter issues those as SET, which
 * stays on the connection and would leak into the next statement.
 */
export function withSettings(sql: string, settings: Record<string, string | number>): string {
  const entries = Object.entries(settings);
  if (entries.length === 0) return sql;
  const clause = entries
    .map(([k, v]) => {
      if (!SETTING_NAME.test(k)) throw new Error(`invalid setting name ${k}`);
      if (typeof v === 'number') {
        if (!Number.isFinite(v)) throw new Error(`invalid value for ${k}`);
        return `${k} = ${v}`;
      }
      return `${k} = '${v.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`;
    })
    .join(', ');
  const format = FORMAT_AT_END.exec(sql);
  const body = format ? sql.slice(0, format.index) : sql;
  return `${body}\nSETTINGS ${clause}${format ? format[0] : ''}`;
}

function readError(db: Db, name: string, error: unknown): Error {
  return (db.readLimits && readLimitError(name, db.readLimits, error)) || countTooLarge(name, error) || toStorageError(name, error);
}

/**
 * Run a named read whose SQL is assembled from allow-listed pieces; every value
 * in `params` is bound ({name:Type}), never spliced into the text.
 *
 * `inSlices`, for a background job's answers of many rows (a close run's touched
 * days, meter values): each row is parsed and checked on its own from the
 * answer's bytes, and the event loop is let in between slices of that work
 * (sql/slices.ts), so requests are answered meanwhile instead of waiting for one
 * parse of the whole answer (decoding megabytes into one string alone held it 25-40 ms).
 */
export async function runQuery<R extends z.ZodType>(
  db: Db,
  name: string,
  query: string,
  params: Record<string, unknown>,
  row: R,
  tags: QueryTags = {},
  { inSlices = false }: { inSlices?: boolean } = {},
): Promise<z.output<R>[]> {
  if (inSlices) return parseInSlices(await queryBytes(db, name, `${query}\nFORMAT JSONEachRow`, params, {}, tags), row);
  let raw: unknown;
  try {
    const sql = withSettings(query, { ...db.readSettings, ...db.readLimits });
    const result = await db.client.query({ query: sql, query_params: params, format: 'JSONEachRow', clickhouse_settings: settingsFor(name, tags) });
    raw = await result.json();
  } catch (error) {
    throw readError(db, name, error);
  }
  return z.array(row).parse(raw);
}

async function parseInSlices<R extends z.ZodType>(bytes: Buffer, row: R): Promise<z.output<R>[]> {
  const slice = timeSlices();
  const rows: z.output<R>[] = [];
  for (let start = 0; start < bytes.length;) {
    const newline = bytes.indexOf(10, start);
    const end = newline === -1 ? bytes.length : newline;
    if (end > start) rows.push(row.parse(JSON.parse(bytes.toString('utf8', start, end))));
    start = end + 1;
    await slice();
  }
  return rows;
}

/**
 * A named, typed read: zod-validated parameters in, zod-validated rows out.
 * Every value travels as a bound parameter ({name:Type}); the SQL text only
 * ever interpolates the database identifier.
 */
export function defineQuery<P extends z.ZodType, R extends z.ZodType>(def: { name: string; params: P; row: R; sql: (database: string) => string }) {
  return (db: Db, params: z.input<P>, tags: QueryTags = {}): Promise<z.output<R>[]> =>
    runQuery(db, def.name, def.sql(db.database), def.params.parse(params) as Record<string, unknown>, def.row, tags);
}

/**
 * How many rows `rows` (a SELECT with bound parameters) gives, by `count`'s rule. With `LIMIT 1` inside, whether it
 * gives any: the engine stops at the first. Callers that act only on rows ask this first, so most calls start nothing.
 */
export async function countRows(db: Db, name: string, rows: string, params: Record<string, unknown>, tags: QueryTags = {}): Promise<number> {
  const [answer] = await runQuery(db, name, `SELECT count() AS n FROM (${rows})`, params, z.object({ n: count }), tags);
  return answer?.n ?? 0;
}

/** A named count (countRows) with zod-validated parameters, as defineQuery for rows. */
export function defineCount<P extends z.ZodType>(def: { name: string; params: P; rows: (database: string) => string }) {
  return (db: Db, params: z.input<P>, tags: QueryTags = {}): Promise<number> =>
    countRows(db, def.name, def.rows(db.database), def.params.parse(params) as Record<string, unknown>, tags);
}

let lastVersion = 0;
/** Versions for rows this process writes: a microsecond clock, strictly increasing even within one millisecond. */
export function nextVersion(): number {
  lastVersion = Math.max(lastVersion + 1, Date.now() * 1000);
  return lastVersion;
}

/** A named statement (DDL or INSERT ... SELECT / VALUES with bound parameters). */
export async function execute(db: Db, name: string, query: string, params: Record<string, unknown> = {}, tags: QueryTags = {}): Promise<void> {
  try {
    await db.client.command({ query, query_params: params, clickhouse_settings: settingsFor(name, tags) });
  } catch (error) {
    throw toStorageError(name, error);
  }
}

/**
 * A named batch insert of rows as JSONEachRow; columns left out take their defaults.
 * `settings` adds insert settings (an insert_deduplication_token, for one).
 */
export async function insertRows(
  db: Db,
  name: string,
  table: string,
  rows: readonly object[],
  tags: QueryTags = {},
  settings: Record<string, string | number> = {},
): Promise<void> {
  if (rows.length === 0) return;
  try {
    if (db.rawInsert) {
      // JSONEachRow also reads a JSON array of the row objects: one JSON.stringify of the whole batch
      // (about 3x faster than one per row joined by newlines, on 25,000 event rows).
      await db.rawInsert(`${db.database}.${table}`, Buffer.from(JSON.stringify(rows)), { ...settingsFor(name, tags), ...settings });
      return;
    }
    await db.client.insert({
      table: `${db.database}.${table}`,
      values: rows as object[],
      format: 'JSONEachRow',
      // On a cluster the table is Distributed: return only once the shards have the rows (an ack means durable).
      // The embedded adapter applies these settings to the connection, where they outlive the insert: every
      // insert states its own deduplication token ('' = none), so none inherits an earlier insert's
      // (which would drop it silently as a repeat; test/insert-settings.test.ts).
      clickhouse_settings: { ...settingsFor(name, tags), distributed_foreground_insert: 1, insert_deduplication_token: '', ...settings },
    });
  } catch (error) {
    throw toStorageError(name, error);
  }
}

/**
 * A named batch insert of CSV bytes (one line per row, these columns in order) through the embedded engine's
 * raw insert; `settings` must pin the CSV reading (ingest/event-csv.ts). Errors as insertRows gives them.
 */
export async function insertCsv(
  rawInsert: RawInsert,
  database: string,
  name: string,
  table: string,
  columns: readonly string[],
  body: Buffer,
  tags: QueryTags = {},
  settings: Record<string, string | number> = {},
): Promise<void> {
  try {
    await rawInsert(`${database}.${table}`, body, { ...settingsFor(name, tags), ...settings }, { columns });
  } catch (error) {
    throw toStorageError(name, error);
  }
}

/**
 * A named read whose bytes the engine formats (FORMAT Parquet, CSV, JSONEachRow
 * at the end of `query`), returned whole (bounded by the Db's max_result_bytes).
 * Nothing is re-formatted in JS.
 */
export async function queryBytes(
  db: Db,
  name: string,
  query: string,
  params: Record<string, unknown>,
  settings: Record<string, string | number>,
  tags: QueryTags = {},
): Promise<Buffer> {
  try {
    const sql = withSettings(query, { ...db.readSettings, ...settings, ...db.readLimits });
    const { stream } = await db.client.exec({ query: sql, query_params: params, clickhouse_settings: settingsFor(name, tags) });
    // No copy of the answer here (it may be megabytes, and each copy is external memory for the garbage collector):
    // chunks are taken as they come, and one chunk (the embedded engine's whole answer, a buffer of its own) is the
    // answer. The caller owns it and may change it in place (a summary's page is joined in place: usage-summary.ts).
    const chunks: Buffer[] = [];
    for await (const chunk of stream as AsyncIterable<Uint8Array>)
      chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
  } catch (error) {
    throw readError(db, name, error);
  }
}
