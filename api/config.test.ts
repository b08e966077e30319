import { describe, expect, it } from 'vitest';
import { loadConfig } from './config.js';

describe('loadConfig', () => {
  it('has working defaults', () => {
    const c = loadConfig({});
    expect(c).toMatchObject({ PORT: 8080, DATA_DIR: './data', MAX_EVENTS_PER_REQUEST: 10_000, MAX_BODY_BYTES: 10 * 1024 * 1024, MAX_FUTURE_SKEW_SECONDS: 300, ENGINE_FSYNC: true });
    expect(c.CLICKHOUSE_URL).toBeUndefined();
  });

  it('names each invalid variable', () => {
    expect(() => loadConfig({ PORT: 'eighty', CLICKHOUSE_DATABASE: 'x-y' })).toThrow(/PORT[\s\S]*CLICKHOUSE_DATABASE|CLICKHOUSE_DATABASE[\s\S]*PORT/);
    expect(() => loadConfig({ ENGINE_FSYNC: 'maybe' })).toThrow(/ENGINE_FSYNC/);
    expect(() => loadConfig({ CLICKHOUSE_URL: 'ftp://x' })).toThrow(/CLICKHOUSE_URL/);
    expect(() => loadConfig({ WRITER_MAX_QUEUED_EVENTS: '10', MAX_EVENTS_PER_REQUEST: '100' })).toThrow(/WRITER_MAX_QUEUED_EVENTS/);
  });

  it('never echoes a secret it rejects', () => {
    const secret = 'short secret';
    let message = '';
    try {
      loadConfig({ METERHOUSE_API_KEY: secret });
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toMatch(/METERHOUSE_API_KEY/);
    expect(message).not.toContain(secret);
  });
});
