import { defineConfig } from 'vitest/config';

/** Unit tests sit next to the code and need no engine; integration tests under test/ use the real one. */
const UNIT = '{api,ingest,sql,jobs}/**/*.test.ts';
const INTEGRATION = 'test/**/*.test.ts';

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
    ],
  },
});
