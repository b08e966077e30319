/**
 * The product's notion of "now" for everything measured in event time: receive
 * time, future skew, retention at ingest, which billing periods have closed,
 * which rollup tiers still hold a window, TTLs. The engine keeps its own clock
 * for storage time (stored_at, close cutoffs); `offsetMs` says how far the
 * product's clock stands from it, so event-time horizons derived from an
 * engine-time cutoff (cutoff + offsetMs) and TTLs (evaluated by the engine)
 * agree with the product's clock.
 *
 * Production runs on the system clock (offset 0). Tests set a clock at an
 * instant (the 1st of a month at 00:30, 29 February, a DST change) so the
 * product behaves as it would then, while the engine runs on real time.
 */
export interface Clock {
  now(): number;
  /** Product time minus the engine's (system) time, in ms. */
  readonly offsetMs: number;
}

export const systemClock: Clock = { now: () => Date.now(), offsetMs: 0 };

/** A clock that reads `instantMs` now and advances in real time from there. */
export function clockAt(instantMs: number): Clock {
  const offsetMs = instantMs - Date.now();
  return { now: () => Date.now() + offsetMs, offsetMs };
}
