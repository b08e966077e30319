import { describe, expect, it } from 'vitest';
import { loadConfig } from './config.js';
import { readLimits } from './runtime-settings.js';
import { httpServerOptions } from './http-server.js';

describe('read, memory and connection limits in the configuration', () => {
  it('have bounded defaults', () => {
    const c = loadConfig({});
    expect(readLimits(c)).toEqual({
      max_execution_time: 20,
      max_rows_to_read: 200_000_000,
      max_memory_usage: 1024 ** 3,
      max_result_rows: 100_000,
      max_result_bytes: 64 * 1024 ** 2,
      max_threads: 1,
      os_thread_priority: 5,
    });
    expect(c).toMatchObject({
      READ_MAX_PAGE_ROWS: 10_000,
      READ_MAX_CONCURRENT: 1,
      READ_MAX_QUEUED: 32,
      INGEST_MAX_INFLIGHT_BYTES: 64 * 1024 ** 2,
      API_KEY_MISS_CACHE_SECONDS: 5,
      SQL_OS_THREAD_PRIORITY: 19,
    });
    expect(httpServerOptions(c)).toMatchObject({ headersTimeout: 10_000, requestTimeout: 60_000, keepAliveTimeout: 5_000, connectionsCheckingInterval: 1000 });
  });

  it('refuses settings that contradict each other, naming the variable', () => {
    expect(() => loadConfig({ READ_MAX_PAGE_ROWS: '200000' })).toThrow(/READ_MAX_PAGE_ROWS: must be less than READ_MAX_RESULT_ROWS/);
    expect(() => loadConfig({ INGEST_MAX_INFLIGHT_BYTES: '2048' })).toThrow(/INGEST_MAX_INFLIGHT_BYTES: must be at least MAX_BODY_BYTES/);
    expect(() => loadConfig({ HTTP_HEADERS_TIMEOUT_MS: '5000', HTTP_REQUEST_TIMEOUT_MS: '1000' })).toThrow(/HTTP_REQUEST_TIMEOUT_MS/);
    expect(() => loadConfig({ READ_OS_THREAD_PRIORITY: '20' })).toThrow(/READ_OS_THREAD_PRIORITY/);
    expect(() => loadConfig({ SQL_OS_THREAD_PRIORITY: '-1' })).toThrow(/SQL_OS_THREAD_PRIORITY/);
  });
});
