import { describe, expect, it } from 'vitest';
import { cleanMessage, sqlErrorOf } from './errors.js';

describe('analyst error messages', () => {
  it("keep the engine's reason and position, without the query it quotes, the database name or file paths", () => {
    const raw =
      "Code: 47. DB::Exception: Unknown expression identifier `nosuch` in scope SELECT nosuch FROM (SELECT event_id FROM meterhouse.usage_events FINAL WHERE tenant_id = 't_1'). (UNKNOWN_IDENTIFIER) (version 26.7.3.1)";
    expect(cleanMessage(raw, 'meterhouse')).toBe('Unknown expression identifier `nosuch`');
    expect(cleanMessage('Cannot open file /var/lib/meterhouse/.meterhouse/engine.xml for meterhouse.usage_events', 'meterhouse')).toBe(
      'Cannot open file <path> for usage_events',
    );
  });

  it("maps the engine's limit codes to the tenant limit that was passed, and engine trouble to none (503)", () => {
    const limits = { sqlMaxRowsToRead: 1000 };
    const error = Object.assign(new Error('Limit for rows exceeded, max rows: 1.00 thousand'), { code: '158' });
    expect(sqlErrorOf(error, 'meterhouse', limits)).toMatchObject({
      status: 'limit',
      details: { limit: 'sqlMaxRowsToRead', value: 1000, clickhouseCode: '158' },
    });
    const syntax = Object.assign(new Error('Syntax error: failed at position 12 (end of query)'), { code: '62' });
    expect(sqlErrorOf(syntax, 'meterhouse', {})).toMatchObject({ status: 'error', details: { position: 12 } });
    expect(sqlErrorOf(Object.assign(new Error('whole engine out of memory'), { code: '241' }), 'meterhouse', {})).toBeUndefined();
    expect(sqlErrorOf(new Error('socket hang up'), 'meterhouse', {})).toBeUndefined();
  });
});
