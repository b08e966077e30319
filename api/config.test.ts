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
    expect(() => loadConfig({ BILLING_WEBHOOK_URL: 'https://billing.example/hook' })).toThrow(/BILLING_WEBHOOK_SECRET/);
    expect(() => loadConfig({ BILLING_DEFAULT_TIMEZONE: 'Moon/Base' })).toThrow(/BILLING_DEFAULT_TIMEZONE/);
    expect(() => loadConfig({ BILLING_DEFAULT_INTERVAL: 'week', BILLING_DEFAULT_ANCHOR_DAY: '9' })).toThrow(/BILLING_DEFAULT_ANCHOR_DAY/);
  });

  it('never echoes a secret it rejects', () => {
    for (const [name, secret] of [['METERHOUSE_API_KEY', 'short secret'], ['BILLING_WEBHOOK_SECRET', 'tooshort']] as const) {
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
});
