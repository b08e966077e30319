import type { Meter } from '../../sql/queries/meters.js';
import { meterUsage } from '../../sql/queries/meter-usage.js';
import type { Db, QueryTags } from '../../sql/query.js';
import type { Config } from '../config.js';
import { chooseSource } from './plan.js';
import { windowsFor } from './windows.js';

/**
 * One customer's value of a meter over [fromMs, toMs): the meter usage API's
 * read with granularity=total (same source choice, same exactness), so the
 * portal's period values are the numbers that API gives for the same window.
 */
export async function customerTotal(db: Db, p: { config: Config; nowMs: number; tenantId: string; customerId: string; meter: Meter; fromMs: number; toMs: number }, tags: QueryTags): Promise<string | number | null> {
  const { config, meter } = p;
  const windows = windowsFor(p.fromMs, p.toMs, 'total', 'UTC')!;
  const source = chooseSource(windows, meter.aggregation, { minute: config.ROLLUP_MINUTE_RETENTION_DAYS, hour: config.ROLLUP_HOUR_RETENTION_DAYS, day: config.ROLLUP_DAY_RETENTION_DAYS }, p.nowMs);
  const [cell] = await meterUsage(db, {
    tenantId: p.tenantId,
    metricName: meter.metricName,
    aggregation: meter.aggregation,
    uniqueDimension: meter.uniqueDimension,
    source,
    granularity: 'total',
    tz: 'UTC',
    fromMs: p.fromMs,
    toMs: p.toMs,
    customerId: p.customerId,
    groupByCustomer: false,
    groupBy: [],
    filters: Object.entries(meter.filter).map(([dimension, values]) => ({ dimension, values })),
  }, tags);
  return cell ? cell.value : emptyValue(meter);
}

/** The value of a window without events: 0 for counts, "0" for sums, null where no value exists (MIN, MAX, AVG, LATEST, P*). */
export function emptyValue(meter: Pick<Meter, 'aggregation'>): string | number | null {
  if (meter.aggregation === 'COUNT' || meter.aggregation === 'UNIQUE_COUNT') return 0;
  return meter.aggregation === 'SUM' ? '0' : null;
}
