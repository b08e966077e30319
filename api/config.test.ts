import { describe, expect, it } from 'vitest';
import { ConfigError, defaultTenantLimits, loadConfig } from './config.js';

describe('loadConfig', () => {
  it('has working defaults', () => {
    const c = loadConfig({});
    expect(c).toMatchObject({
      PORT: 8080,
      DATA_DIR: './data',
      MAX_EVENTS_PER_REQUEST: 10_000,
      MAX_BODY_BYTES: 10 * 1024 * 1024,
      MAX_FUTURE_SKEW_SECONDS: 300,
      ENGINE_FSYNC: true,
    });
    expect(c.CLICKHOUSE_URL).toBeUndefined();
  });

  it('takes per-tenant limit defaults in the range the operator may set, and an operator key apart from the admin key', () => {
    expect(defaultTenantLimits(loadConfig({ TENANT_INGEST_EVENTS_PER_SECOND: '250', TENANT_CONCURRENT_READS: '3' }))).toEqual({
      ingestEventsPerSecond: 250,
      concurrentReads: 3,
      readMaxExecutionSeconds: 20,
      readMaxRowsToRead: 200_000_000,
      readMaxMemoryBytes: 1024 ** 3,
      sqlMaxExecutionSeconds: 30,
      sqlMaxRowsToRead: 1_000_000_000,
      sqlMaxBytesToRead: 100 * 1024 ** 3,
      sqlMaxMemoryBytes: 1024 ** 3,
      sqlMaxResultRows: 100_000,
      sqlConcurrentQueries: 2,
    });
    expect(() => loadConfig({ SQL_CONCURRENT_QUERIES: '0' })).toThrow(/SQL_CONCURRENT_QUERIES/);
    expect(() => loadConfig({ TENANT_INGEST_EVENTS_PER_SECOND: '0' })).toThrow(/TENANT_INGEST_EVENTS_PER_SECOND/);
    expect(() => loadConfig({ TENANT_CONCURRENT_READS: '1001' })).toThrow(/TENANT_CONCURRENT_READS/);
    expect(() => loadConfig({ READ_MAX_MEMORY_BYTES: '1000' })).toThrow(/READ_MAX_MEMORY_BYTES/);
    const same = 'the-same-secret-for-both-0123456789';
    expect(() => loadConfig({ METERHOUSE_API_KEY: same, METERHOUSE_OPERATOR_KEY: same })).toThrow(/METERHOUSE_OPERATOR_KEY: must differ/);
  });

  it('names each invalid variable', () => {
    expect(() => loadConfig({ PORT: 'eighty', CLICKHOUSE_DATABASE: 'x-y' })).toThrow(/PORT[\s\S]*CLICKHOUSE_DATABASE|CLICKHOUSE_DATABASE[\s\S]*PORT/);
    expect(() => loadConfig({ ENGINE_FSYNC: 'maybe' })).toThrow(/ENGINE_FSYNC/);
    expect(() => loadConfig({ CLICKHOUSE_URL: 'ftp://x' })).toThrow(/CLICKHOUSE_URL/);
    expect(() => loadConfig({ WRITER_MAX_QUEUED_EVENTS: '10', MAX_EVENTS_PER_REQUEST: '100' })).toThrow(/WRITER_MAX_QUEUED_EVENTS/);
    expect(() => loadConfig({ BILLING_WEBHOOK_URL: 'https://billing.example/hook' })).toThrow(/BILLING_WEBHOOK_SECRET/);
    expect(() => loadConfig({ BILLING_DEFAULT_TIMEZONE: 'Moon/Base' })).toThrow(/BILLING_DEFAULT_TIMEZONE/);
    expect(() => loadConfig({ BILLING_DEFAULT_INTERVAL: 'week', BILLING_DEFAULT_ANCHOR_DAY: '9' })).toThrow(/BILLING_DEFAULT_ANCHOR_DAY/);
  });

  it('never echoes a secret it rejects', () => {
    for (const [name, secret] of [
      ['METERHOUSE_API_KEY', 'short secret'],
      ['METERHOUSE_OPERATOR_KEY', 'short op'],
      ['BILLING_WEBHOOK_SECRET', 'tooshort'],
    ] as const) {
      let message = '';
      try {
        loadConfig({ [name]: secret });
      } catch (e) {
        message = (e as Error).message;
      }
      expect(message).toMatch(new RegExp(name));
      expect(message).not.toContain(secret);
    }
  });

  it('checks cron patterns with croner, naming the variable', () => {
    expect(loadConfig({ ROLLUP_RECONCILE_CRON: '*/5 * * * *', BILLING_CLOSE_CRON: '@hourly' })).toMatchObject({
      ROLLUP_RECONCILE_CRON: '*/5 * * * *',
      BILLING_CLOSE_CRON: '@hourly',
    });
    expect(() => loadConfig({ ROLLUP_RECONCILE_CRON: 'every 5 minutes' })).toThrow(
      /ROLLUP_RECONCILE_CRON: is not a valid cron pattern \(.*five, six, or seven/,
    );
    expect(() => loadConfig({ BILLING_CLOSE_CRON: '61 * * * *' })).toThrow(/BILLING_CLOSE_CRON: is not a valid cron pattern \(.*minute/);
    expect(() => loadConfig({ BILLING_CLOSE_CRON: '0 0 30 2 *' })).toThrow(/BILLING_CLOSE_CRON: is a cron pattern that never fires/);
    expect(() => loadConfig({ BILLING_CLOSE_CRON: 'x' })).toThrow(ConfigError);
  });

  const s3 = {
    S3_ENDPOINT: 'http://127.0.0.1:9000',
    S3_BUCKET: 'meterhouse',
    S3_ACCESS_KEY_ID: 'AK',
    S3_SECRET_ACCESS_KEY: 'the-s3-secret',
    S3_REGION: 'us-east-1',
  };

  it('takes S3 settings all together or not at all, naming what is missing', () => {
    const c = loadConfig(s3);
    expect(c).toMatchObject({ S3_PREFIX: 'meterhouse/', S3_RETRY_ATTEMPTS: 3, HOT_RETENTION_DAYS: 30 });
    expect(c.RAW_RETENTION_DAYS).toBeUndefined();
    const { S3_BUCKET: _bucket, S3_REGION: _region, ...partial } = s3;
    let message = '';
    try {
      loadConfig(partial);
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toMatch(/S3 settings go together: missing S3_BUCKET, S3_REGION/);
    expect(message).not.toContain('the-s3-secret');
    expect(() => loadConfig({ ...s3, S3_BUCKET: 'No_Such' })).toThrow(/S3_BUCKET/);
    expect(() => loadConfig({ ...s3, S3_PREFIX: 'no-slash' })).toThrow(/S3_PREFIX/);
  });

  it('keeps raw events longer than the hot tier', () => {
    expect(loadConfig({ RAW_RETENTION_DAYS: '39' }).RAW_RETENTION_DAYS).toBe(39);
    expect(() => loadConfig({ ...s3, HOT_RETENTION_DAYS: '40', RAW_RETENTION_DAYS: '40' })).toThrow(
      /RAW_RETENTION_DAYS: must be greater than HOT_RETENTION_DAYS/,
    );
    expect(loadConfig({ ...s3, HOT_RETENTION_DAYS: '40', RAW_RETENTION_DAYS: '41' }).RAW_RETENTION_DAYS).toBe(41);
  });

  it('refuses a raw retention that could delete events of a period not yet exported', () => {
    // 31 days (longest period) + 1 day of grace (the default) + 7 days of margin
    expect(() => loadConfig({ RAW_RETENTION_DAYS: '38' })).toThrow(
      /RAW_RETENTION_DAYS: must be at least 39 days: the longest billing period \(31 days\) plus BILLING_GRACE_SECONDS \(1 days\) plus a 7-day margin/,
    );
    expect(loadConfig({ RAW_RETENTION_DAYS: '39' }).RAW_RETENTION_DAYS).toBe(39);
    // a longer grace needs a longer retention
    expect(() => loadConfig({ RAW_RETENTION_DAYS: '45', BILLING_GRACE_SECONDS: String(10 * 86_400) })).toThrow(/at least 48 days/);
  });
});

describe('PUBLIC_URL', () => {
  it('refuses a value that is not a URL with a ConfigError naming it, not a crash', () => {
    expect(() => loadConfig({ PUBLIC_URL: 'true' })).toThrow(/PUBLIC_URL/);
    expect(() => loadConfig({ PUBLIC_URL: 'https://usage.example.com/path' })).toThrow(/PUBLIC_URL: must be an origin/);
  });
});
