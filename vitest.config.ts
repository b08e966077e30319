import { defineConfig } from 'vitest/config';

/** Unit tests sit next to the code and need no engine; integration tests under test/ use the real one. */
const UNIT = '{api,access,analyst,alerts,ingest,sql,jobs,domain,dashboards,bench,clients/js/src}/**/*.test.ts';
const INTEGRATION = 'test/**/*.test.ts';

/**
 * Instants the time-sensitive tests also run at (MH_TEST_NOW; test/clock.ts
 * sets the product's clock there, the engine keeps real time for storage).
 * The engine's clock stays real, so the product's runs ahead of it here, as far
 * as 2028 (the offset is handled both ways; see domain/clock.ts). All lie after the fixed dates that backfill tests use (2023-2026),
 * which would otherwise be refused as future events.
 */
export const CALENDAR: Record<string, string> = {
  'month-start-0030': '2027-03-01T00:30:00Z',
  'year-last-second': '2026-12-31T23:59:59Z',
  'month-last-second': '2027-04-30T23:59:59Z',
  'leap-day': '2028-02-29T00:30:00Z',
  'new-york-dst-start': '2027-03-14T07:30:00Z',
  'new-york-dst-end': '2027-11-07T06:30:00Z',
  'berlin-dst-start': '2027-03-28T01:30:00Z',
  'berlin-dst-end': '2027-10-31T01:30:00Z',
};

/** Tests whose answers depend on the date: retention, tiering, periods, windows, the close job, exports. */
export const TIME_SENSITIVE = [
  'test/analyst-correctness.test.ts',
  'test/billing.test.ts',
  'test/billing-runs.test.ts',
  'test/billing-cycle-change.test.ts',
  'test/corrections.test.ts',
  'test/event-ids.test.ts',
  'test/exactness.test.ts',
  'test/meter-oracle.test.ts',
  'test/meters.test.ts',
  'test/portal-alerts.test.ts',
  'test/portal-api.test.ts',
  'test/portal-isolation.test.ts',
  'test/portal-page.test.ts',
  'test/reconcile-job.test.ts',
  'test/reconcile-settle.test.ts',
  'test/reconcile-tiers.test.ts',
  'test/retention-growth.test.ts',
  'test/s3-exports.test.ts',
  'test/s3-fresh.test.ts',
  'test/s3-tiering.test.ts',
  'test/usage-summary-source.test.ts',
  'test/usage-summary-month.test.ts',
  'test/webhooks.test.ts',
  'test/alerts.test.ts',
  'test/alerts-delivery.test.ts',
];

// Each test file runs in its own child process: the embedded engine is a
// process singleton bound to one data path, so files must not share a process.
// `npm test` runs both projects with these settings; `npm run test:unit`
// (`--project unit`) runs only the unit tests.
export default defineConfig({
  test: {
    pool: 'forks',
    isolate: true,
    fileParallelism: true,
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 60_000,
    projects: [
      { extends: true, test: { name: 'unit', include: [UNIT] } },
      { extends: true, test: { name: 'integration', include: [INTEGRATION] } },
      ...Object.entries(CALENDAR).map(([name, at]) => ({
        extends: true as const,
        test: { name: `at:${name}`, include: TIME_SENSITIVE, env: { MH_TEST_NOW: at } },
      })),
    ],
  },
});
