import { DateTime } from 'luxon';
import { DAY_MS } from '../../domain/time.js';

export const CYCLE_INTERVALS = ['month', 'week', 'day'] as const;
export type CycleInterval = (typeof CYCLE_INTERVALS)[number];

/**
 * How a customer is billed: periods are half-open local-time windows in
 * `timezone`, starting at local midnight of the anchor day (day of month
 * 1-28 for months, ISO weekday 1-7 with 1 = Monday for weeks, unused for days).
 * Anchors stop at 28 so every month has the anchor day.
 */
export interface BillingCycle {
  timezone: string;
  interval: CycleInterval;
  anchorDay: number;
}

export interface Period {
  startMs: number;
  endMs: number;
}

/** Longer than any period (31 days, plus a DST hour): a period still open at `t` started after `t - LONGEST_PERIOD_MS`. */
export const LONGEST_PERIOD_MS = 32 * DAY_MS;

interface LocalDate {
  year: number;
  month: number;
  day: number;
}

/**
 * Local midnight of a calendar date in a zone. Where midnight does not exist
 * (a DST gap at 00:00, e.g. America/Santiago) luxon moves forward to the first
 * local time that does, so consecutive periods always tile the time line.
 */
function midnight(date: LocalDate, zone: string): number {
  return DateTime.fromObject(date, { zone }).toMillis();
}

/** Calendar arithmetic on dates, independent of any zone's clock changes. */
function addToDate(date: LocalDate, plus: { days?: number; months?: number }): LocalDate {
  const d = DateTime.fromObject(date, { zone: 'UTC' }).plus(plus);
  return { year: d.year, month: d.month, day: d.day };
}

/** The first local date of the period holding local date `d`. */
function startDate(d: DateTime, cycle: BillingCycle): LocalDate {
  const date = { year: d.year, month: d.month, day: d.day };
  switch (cycle.interval) {
    case 'day':
      return date;
    case 'week':
      return addToDate(date, { days: -((d.weekday - cycle.anchorDay + 7) % 7) });
    case 'month': {
      const anchored = { year: d.year, month: d.month, day: cycle.anchorDay };
      return d.day >= cycle.anchorDay ? anchored : addToDate(anchored, { months: -1 });
    }
  }
}

function step(cycle: BillingCycle): { days?: number; months?: number } {
  return cycle.interval === 'month' ? { months: 1 } : { days: cycle.interval === 'week' ? 7 : 1 };
}

/** The period [start, end) that holds instant `ms`. */
export function periodOf(ms: number, cycle: BillingCycle): Period {
  // The local date of `ms` never starts after `ms`, even where its midnight was skipped (the day then starts at the first existing time).
  const first = startDate(DateTime.fromMillis(ms, { zone: cycle.timezone }), cycle);
  return { startMs: midnight(first, cycle.timezone), endMs: midnight(addToDate(first, step(cycle)), cycle.timezone) };
}

/** Every period that overlaps [fromMs, toMs), in order. */
export function periodsOverlapping(fromMs: number, toMs: number, cycle: BillingCycle): Period[] {
  const periods: Period[] = [];
  let p = periodOf(fromMs, cycle);
  while (p.startMs < toMs) {
    periods.push(p);
    p = periodOf(p.endMs, cycle);
  }
  return periods;
}

/**
 * `periodsOverlapping` remembered for one job run. The close job asks for the
 * periods of every (customer, day) with events, and an alert sweep for every
 * customer's open periods: hundreds of thousands of calls, each ~25-90 µs of
 * luxon on the event loop, for a handful of distinct cycles. The answer
 * depends only on the cycle and the span, so each distinct one is computed
 * once. Scoped to a run (its size is bounded by the run's own inputs).
 */
export function overlappingPeriodsMemo(): (fromMs: number, toMs: number, cycle: BillingCycle) => readonly Period[] {
  const known = new Map<string, Period[]>();
  return (fromMs, toMs, cycle) => {
    const key = `${cycle.timezone}\n${cycle.interval}\n${cycle.anchorDay}\n${fromMs}\n${toMs}`;
    let periods = known.get(key);
    if (!periods) known.set(key, (periods = periodsOverlapping(fromMs, toMs, cycle)));
    return periods;
  };
}
