/** Fixed lengths of time in ms for sql/ (a leaf of the layout: domain/time.ts holds the same for the rest). */
export const HOUR_MS = 3_600_000;
export const DAY_MS = 86_400_000;
