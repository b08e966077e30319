import { z } from 'zod';
import { TABLES } from '../names.js';
import { count, countFitsJson } from '../count.js';
import { queryBytes, runQuery, type Db, type QueryTags } from '../query.js';
import { wideSum } from '../decimals.js';
import type { RollupTier } from '../datasets/rollups.js';
import { RECONCILE_JOB } from './reconcile.js';
import { onlyIdentitiesMatching } from './meter-usage.js';

/**
 * Exact usage per (customer, metric) over [from, to): decimal sum and event count.
 *
 * How it is exact: a rollup window is read from the rollup only once the
 * reconciler has compared it with the deduplicated raw events (every row of it
 * was stored before the reconcile watermark, so duplicates, corrections and
 * voids in it are already rewritten). A window holding any row stored since
 * the watermark is read from raw events with FINAL (deduplicated identities,
 * latest version, voids left out), so a fresh event counts at once.
 * Without a tier (the window is not aligned to hours) everything is raw.
 * Whole UTC months of the day tier whose windows are all reconciled are read
 * from the tier's projection per customer and month (one row per customer,
 * metric and part instead of one per day and dimension map).
 * Sums are Decimal(76, 9) (sql/decimals.ts), returned as strings.
 */
export interface SummaryQuery {
  tenantId: string;
  fromMs: number;
  toMs: number;
  customerId: string | null;
  metricName: string | null;
  after: { customerId: string; metricName: string } | null;
  /** Page size: the answer holds at most this many rows, and says whether more follow. */
  limit: number;
  /** The hour or day rollup to read reconciled windows from; undefined: raw only. */
  tier: RollupTier | undefined;
}

export interface SummaryRow {
  customerId: string;
  metricName: string;
  quantity: string;
  events: number;
}

export interface SummaryAnswer {
  /**
   * The page's rows as the elements of a JSON array (comma-separated, without the brackets), written by the engine:
   * a whole tenant's month is 10,000 rows, and parsing them into objects and writing them out again cost the API
   * more than the engine's grouping. A view of the engine's answer (see pageOf), empty for no rows.
   */
  elements: Buffer;
  /** The last row of the page (the next page's cursor), parsed and checked. */
  last: SummaryRow | undefined;
  /** More rows follow the page. */
  more: boolean;
  /** The rollup read (reconciled windows), if any. */
  rollup: string | undefined;
  /** Windows read from raw events because they hold rows stored since the last reconciliation. */
  rawWindows: number;
}

const at = (param: string) => `fromUnixTimestamp64Milli({${param}:Int64}, 'UTC')`;
const windowOf = (tier: RollupTier) => `toUnixTimestamp(${tier.bucket('timestamp')})`;

const summaryRow = z.object({ customerId: z.string(), metricName: z.string(), quantity: z.string(), events: count }) satisfies z.ZodType<SummaryRow>;

/**
 * Window starts (epoch seconds) of `tier` in [from, to) with rows stored since the reconcile
 * watermark, among the rows the summary asks for: rollup rows are per customer and metric, so a
 * late row of another customer or metric leaves these rollup rows exact.
 */
async function unreconciledWindows(db: Db, tier: RollupTier, filters: string, params: Record<string, unknown>, tags: QueryTags): Promise<number[]> {
  const d = db.database;
  const sql = `SELECT DISTINCT ${windowOf(tier)} AS w FROM ${d}.${TABLES.usageEvents}
WHERE ${filters} AND timestamp >= ${at('fromMs')} AND timestamp < ${at('toMs')}
  AND stored_at >= fromUnixTimestamp64Milli((SELECT max(watermark_ms) FROM ${d}.${TABLES.rollupReconcileState} FINAL WHERE name = {job:String}), 'UTC')
ORDER BY w`;
  const rows = await runQuery(db, 'usage.summary.unreconciled', sql, { ...params, job: RECONCILE_JOB }, z.object({ w: z.coerce.number() }), tags);
  return rows.map((r) => r.w);
}

/** The first instant of the UTC month after the one holding `ms`. */
const nextMonth = (ms: number) => {
  const d = new Date(ms);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1);
};

/**
 * The UTC months (their first instants, epoch ms) wholly inside [fromMs, toMs) that hold none of
 * `unreconciled` (day window starts, epoch seconds).
 */
export function reconciledMonths(fromMs: number, toMs: number, unreconciled: readonly number[]): number[] {
  const months: number[] = [];
  const first = new Date(fromMs);
  let start = Date.UTC(first.getUTCFullYear(), first.getUTCMonth());
  if (start < fromMs) start = nextMonth(start);
  for (let end = nextMonth(start); end <= toMs; start = end, end = nextMonth(start)) {
    if (!unreconciled.some((w) => w * 1000 >= start && w * 1000 < end)) months.push(start);
  }
  return months;
}

export async function usageSummary(db: Db, q: SummaryQuery, tags: QueryTags = {}): Promise<SummaryAnswer> {
  const d = db.database;
  const filters = `tenant_id = {tenantId:String}
    AND ({customerId:Nullable(String)} IS NULL OR customer_id = {customerId:Nullable(String)})
    AND ({metricName:Nullable(String)} IS NULL OR metric_name = {metricName:Nullable(String)})
    AND ({afterCustomerId:Nullable(String)} IS NULL
         OR (customer_id, toString(metric_name)) > ({afterCustomerId:Nullable(String)}, {afterMetricName:String}))`;
  const params: Record<string, unknown> = {
    tenantId: q.tenantId,
    fromMs: q.fromMs,
    toMs: q.toMs,
    customerId: q.customerId,
    metricName: q.metricName,
    afterCustomerId: q.after?.customerId ?? null,
    afterMetricName: q.after?.metricName ?? '',
    limit: q.limit,
  };
  // One customer's raw windows: FINAL merges only the identities with a row of that customer there.
  const oneCustomer = (where: string) =>
    q.customerId === null
      ? ''
      : `\n  ${onlyIdentitiesMatching(d, `tenant_id = {tenantId:String} AND customer_id = {customerId:Nullable(String)} AND ${where}`)}`;
  /** One source of rows: its sum and count, each grouped per customer and metric. */
  type Part = { from: string; where: string; sum: string; count: string };
  const raw = (where: string): Part => ({
    from: `${d}.${TABLES.usageEvents} FINAL${oneCustomer(where)}`,
    where: `${filters} AND is_deleted = 0 AND ${where}`,
    sum: wideSum('quantity'),
    count: 'count()',
  });
  const parts: Part[] = [];
  let rawWindows = 0;
  if (!q.tier) {
    parts.push(raw(`timestamp >= ${at('fromMs')} AND timestamp < ${at('toMs')}`));
  } else {
    const windows = await unreconciledWindows(db, q.tier, filters, params, tags);
    rawWindows = windows.length;
    params.windows = windows;
    // Whole UTC months of the day tier with every window reconciled: read from its projection per
    // customer and month (sql/datasets/rollups.ts customerMonthDdl), the rest day by day.
    const months = q.tier.name === 'day' ? reconciledMonths(q.fromMs, q.toMs, windows) : [];
    if (months.length > 0) params.months = months.map((ms) => new Date(ms).toISOString().slice(0, 10));
    // Days outside those months, reconciled; none when the months are [from, to) whole.
    if (!(months.length > 0 && months[0] === q.fromMs && nextMonth(months.at(-1)!) === q.toMs && windows.length === 0)) {
      parts.push({
        from: `${d}.${q.tier.table}`,
        where: `${filters} AND window_start >= ${at('fromMs')} AND window_start < ${at('toMs')}
    AND toUnixTimestamp(window_start) NOT IN {windows:Array(UInt32)}${months.length > 0 ? '\n    AND toStartOfMonth(window_start) NOT IN {months:Array(Date)}' : ''}`,
        sum: wideSum('quantity_sum'),
        count: 'sum(events)',
      });
    }
    if (months.length > 0) {
      // Written as the projection's own expressions (sum(quantity_sum), toStartOfMonth(window_start)), so the
      // engine reads the projection; quantity_sum is Decimal(76, 9) already, the type of the other parts' sums.
      parts.push({
        from: `${d}.${q.tier.table}`,
        where: `${filters} AND toStartOfMonth(window_start) IN {months:Array(Date)}`,
        sum: 'sum(quantity_sum)',
        count: 'sum(events)',
      });
    }
    if (windows.length > 0) {
      // The bounds let the engine skip partitions and granules outside the unreconciled windows.
      params.rawFromMs = Math.max(q.fromMs, windows[0]! * 1000);
      params.rawToMs = Math.min(q.toMs, windows.at(-1)! * 1000 + q.tier.stepMs);
      parts.push(raw(`timestamp >= ${at('rawFromMs')} AND timestamp < ${at('rawToMs')} AND ${windowOf(q.tier)} IN {windows:Array(UInt32)}`));
    }
  }
  const answer = 'customer_id AS customerId, toString(metric_name) AS metricName';
  // A count of 2^53 or more would reach a JSON client rounded: refused instead (sql/count.ts).
  const tail = `GROUP BY customer_id, metric_name
HAVING ${countFitsJson('events')}
ORDER BY customer_id, metric_name
LIMIT {limit:UInt32}
FORMAT JSONEachRow`;
  params.limit = q.limit + 1;
  // One part is answered as it is grouped; several are grouped again over their union.
  const sql =
    parts.length === 1
      ? `SELECT ${answer}, toString(${parts[0]!.sum}) AS quantity, ${parts[0]!.count} AS events
FROM ${parts[0]!.from}
WHERE ${parts[0]!.where}
${tail}`
      : `SELECT ${answer}, toString(sum(s)) AS quantity, sum(c) AS events
FROM (
  ${parts.map((p) => `SELECT customer_id, metric_name, ${p.sum} AS s, ${p.count} AS c\n  FROM ${p.from}\n  WHERE ${p.where}\n  GROUP BY customer_id, metric_name`).join('\n  UNION ALL\n  ')}
)
${tail}`;
  const lines = await queryBytes(db, 'usage.summary', sql, params, SUMMARY_JSON, tags);
  return { ...pageOf(lines, q.limit), rollup: q.tier?.table, rawWindows };
}

/** Pinned per statement, so the answer's bytes never depend on session state: counts as JSON numbers, no escaped slashes, always valid UTF-8. */
const SUMMARY_JSON = { output_format_json_quote_64bit_integers: 0, output_format_json_escape_forward_slashes: 0, output_format_json_validate_utf8: 1 };

const NEWLINE = 0x0a;

/**
 * The first `limit` of the engine's JSONEachRow lines as the elements of one JSON array, and whether more follow.
 * A JSONEachRow line is one JSON object and holds no raw newline (the engine escapes them in strings), so a comma in
 * place of each newline between rows joins them. That is done in place, in `lines`, which the caller gives up: the
 * answer is a view of it, not a copy (a whole tenant's month is about 1 MB, and each copy is external memory that
 * the garbage collector has to reclaim while other requests wait).
 */
export function pageOf(lines: Buffer, limit: number): Pick<SummaryAnswer, 'elements' | 'last' | 'more'> {
  // Every JSONEachRow line ends with a newline: bytes after the last one would be a row this page loses.
  if (lines.length > 0 && lines[lines.length - 1] !== NEWLINE) throw new Error('the engine answered a summary row without its line end');
  const ends: number[] = [];
  for (let at = lines.indexOf(NEWLINE); at !== -1 && ends.length <= limit; at = lines.indexOf(NEWLINE, at + 1)) ends.push(at);
  const more = ends.length > limit;
  const rows = Math.min(ends.length, limit);
  if (rows === 0) return { elements: lines.subarray(0, 0), last: undefined, more };
  const end = ends[rows - 1]!;
  // The last row first, before any byte of `lines` changes (its own bytes never do).
  const lastStart = rows === 1 ? 0 : ends[rows - 2]! + 1;
  const last = summaryRow.parse(JSON.parse(lines.toString('utf8', lastStart, end)));
  for (let i = 0; i < rows - 1; i++) lines[ends[i]!] = 0x2c; // , in place of each newline between rows
  return { elements: lines.subarray(0, end), last, more };
}
