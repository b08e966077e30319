import { clockAt, systemClock, type Clock } from '../domain/clock.js';

/**
 * The instant the tests of this process run at. Normally the real time; with
 * MH_TEST_NOW (set by the calendar projects of vitest.config.ts) the product
 * and the tests run as if it were that instant, while the embedded engine keeps
 * the real time for storage (domain/clock.ts). Every test stamps its events and
 * computes its expectations from `now()`, never from Date.now(), so it passes
 * at any instant: the 1st of a month at 00:30, the last second of a year,
 * 29 February, a DST change.
 */
const at = process.env.MH_TEST_NOW;
if (at !== undefined && Number.isNaN(Date.parse(at))) throw new Error(`MH_TEST_NOW=${at} is not an instant`);

export const testClock: Clock = at === undefined ? systemClock : clockAt(Date.parse(at));

/** The product's now, for these tests. */
export const now = (): number => testClock.now();
