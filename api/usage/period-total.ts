import { countsAsInteger, type Meter } from '../../sql/queries/meters.js';
import { meterUsage, type Granularity } from '../../sql/queries/meter-usage.js';
import type { Db, QueryTags } from '../../sql/query.js';
import type { TierKeptFrom } from '../../sql/datasets/rollups.js';
import type { Period } from '../../jobs/billing/periods.js';
import { chooseSource } from './plan.js';
import { windowsFor, type UsageWindow } from './windows.js';

type Value = string | number | null;

/**
 * Calendar windows (monthly cycles anchored on the 1st, weekly on Monday, daily) from the first of these periods to
 * the end of the last, among which each period is one window. The periods may leave windows out between them (the
 * dashboard computes only the periods that no export holds): one read of every window still costs less than a read
 * per period, each a statement of its own.
 */
export function calendarWindows(periods: readonly Period[], tz: string): { granularity: Granularity; windows: UsageWindow[] } | undefined {
  const first = periods[0]!;
  const last = periods.at(-1)!;
  for (const granularity of ['day', 'week', 'month'] as const) {
    const windows = windowsFor(first.startMs, last.endMs, granularity, tz);
    if (!windows) continue;
    const endOf = new Map(windows.map((w) => [w.alignedStartMs, w.endMs]));
    if (periods.every((p) => endOf.get(p.startMs) === p.endMs)) return { granularity, windows };
  }
  return undefined;
}

/**
 * One customer's value of a meter in each of these periods (oldest first, not
 * overlapping): the meter usage API's read (same source choice, same
 * exactness), so each is the number that API gives for the same window. One
 * read when the periods are calendar windows in the customer's zone, else one
 * per period.
 */
export async function customerTotals(
  db: Db,
  p: { readableFrom: TierKeptFrom; tenantId: string; customerId: string; meter: Meter; tz: string; periods: readonly Period[] },
  tags: QueryTags,
): Promise<Value[]> {
  if (p.periods.length === 0) return [];
  const calendar = calendarWindows(p.periods, p.tz);
  if (calendar) {
    const { cells } = await read(db, p, calendar.windows, calendar.granularity, p.tz, tags);
    const byStart = new Map(cells.map((c) => [c.bucketMs, c.value]));
    return p.periods.map((period) => byStart.get(period.startMs) ?? emptyValue(p.meter));
  }
  const values: Value[] = [];
  for (const period of p.periods) {
    const {
      cells: [cell],
    } = await read(db, p, windowsFor(period.startMs, period.endMs, 'total', 'UTC')!, 'total', 'UTC', tags);
    values.push(cell ? cell.value : emptyValue(p.meter));
  }
  return values;
}

function read(
  db: Db,
  p: { readableFrom: TierKeptFrom; tenantId: string; customerId: string; meter: Meter },
  windows: UsageWindow[],
  granularity: Granularity,
  tz: string,
  tags: QueryTags,
) {
  const { meter } = p;
  const source = chooseSource(windows, meter.aggregation, p.readableFrom);
  return meterUsage(
    db,
    {
      tenantId: p.tenantId,
      metricName: meter.metricName,
      aggregation: meter.aggregation,
      uniqueDimension: meter.uniqueDimension,
      source,
      granularity,
      tz,
      fromMs: windows[0]!.startMs,
      toMs: windows.at(-1)!.endMs,
      customerId: p.customerId,
      groupByCustomer: false,
      groupBy: [],
      filters: Object.entries(meter.filter).map(([dimension, values]) => ({ dimension, values })),
    },
    tags,
  );
}

/** The value of a window without events: 0 for counts, "0" for sums, null where no value exists (MIN, MAX, AVG, LATEST, P*). */
export function emptyValue(meter: Pick<Meter, 'aggregation'>): Value {
  if (countsAsInteger(meter.aggregation)) return 0;
  return meter.aggregation === 'SUM' ? '0' : null;
}
