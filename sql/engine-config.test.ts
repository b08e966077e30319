import { describe, expect, it } from 'vitest';
import { renderEngineConfig } from './engine-config.js';
import { eventsTtl, ttlAfter } from './retention.js';

const limits = { maxServerMemoryBytes: 2 ** 31, markCacheBytes: 2 ** 28, backgroundPoolSize: 4, fsyncAfterInsert: true };
const s3 = {
  endpoint: 'http://minio:9000/',
  bucket: 'meterhouse',
  prefix: 'prod/',
  accessKeyId: 'AK',
  secretAccessKey: 'se<cr>&t',
  region: 'us-east-1',
  retryAttempts: 3,
  connectTimeoutMs: 2000,
};

describe('engine config', () => {
  it('has no storage configuration without S3', () => {
    expect(renderEngineConfig(limits)).not.toMatch(/storage_configuration|s3/);
  });

  it('declares an s3 disk and the tiered policy (hot volume named default) with S3', () => {
    const xml = renderEngineConfig(limits, s3);
    expect(xml).toContain('<endpoint>http://minio:9000/meterhouse/prod/parts/</endpoint>');
    expect(xml).toContain('<retry_attempts>3</retry_attempts>');
    expect(xml).toMatch(/<tiered>\s*<volumes>\s*<default><disk>default<\/disk><\/default>\s*<cold><disk>s3<\/disk><\/cold>/);
    // XML-escaped, so a secret with markup characters neither breaks nor injects configuration.
    expect(xml).toContain('<secret_access_key>se&lt;cr&gt;&amp;t</secret_access_key>');
  });
});

describe('usage_events TTL', () => {
  it('renders the move and delete rules as ClickHouse prints them back', () => {
    expect(eventsTtl({})).toBeUndefined();
    expect(eventsTtl({ hotDays: 30 })).toBe("timestamp + toIntervalDay(30) TO VOLUME 'cold'");
    expect(eventsTtl({ rawDays: 400 })).toBe('timestamp + toIntervalDay(400)');
    expect(eventsTtl({ hotDays: 7, rawDays: 400 })).toBe("timestamp + toIntervalDay(7) TO VOLUME 'cold', timestamp + toIntervalDay(400)");
  });
});

describe('TTLs follow the product clock', () => {
  it('shift the interval by the clock offset, so rows expire when the product says they are N days old', () => {
    expect(ttlAfter('timestamp', 30, 0)).toBe('timestamp + toIntervalDay(30)');
    // The product runs 10 days ahead of the engine: rows expire 10 engine-days earlier.
    expect(ttlAfter('timestamp', 30, 10 * 86_400_000)).toBe(`timestamp + toIntervalSecond(${20 * 86_400})`);
    expect(ttlAfter('window_start', 7, -2400)).toBe(`window_start + toIntervalSecond(${7 * 86_400 + 2})`);
    expect(eventsTtl({ hotDays: 7, rawDays: 400, clockOffsetMs: -86_400_000 })).toBe(
      `timestamp + toIntervalSecond(${8 * 86_400}) TO VOLUME 'cold', timestamp + toIntervalSecond(${401 * 86_400})`,
    );
  });
});

describe('merge threads priority', () => {
  it('renders the nice value of the merge threads, 0 (the engine default) when none is given', () => {
    expect(renderEngineConfig(limits)).toContain('<os_threads_nice_value_merge_mutate>0</os_threads_nice_value_merge_mutate>');
    expect(renderEngineConfig({ ...limits, mergeThreadsNice: 10 })).toContain('<os_threads_nice_value_merge_mutate>10</os_threads_nice_value_merge_mutate>');
  });
});
