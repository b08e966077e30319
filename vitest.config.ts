import { defineConfig } from 'vitest/config';

// Each test file runs in its own child process: the embedded engine is a
// process singleton bound to one data path, so files must not share a process.
export default defineConfig({
  test: {
    include: ['{api,ingest,sql,jobs}/**/*.test.ts', 'test/**/*.test.ts'],
    pool: 'forks',
    isolate: true,
    fileParallelism: true,
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
