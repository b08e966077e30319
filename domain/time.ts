/** Fixed lengths of time in ms (sql/, a leaf of the layout, keeps the same in sql/time.ts). A UTC day is always 24 hours in epoch time; a local day is not: use the time zone for those. */
export const HOUR_MS = 3_600_000;
export const DAY_MS = 86_400_000;
