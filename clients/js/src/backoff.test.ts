import { describe, expect, it } from 'vitest';
import { parseRetryAfter, retryDelayMs } from './backoff.js';

const retry = { initialDelayMs: 100, maxDelayMs: 1_000, maxAttempts: 10, maxRetryAfterMs: 60_000 };

describe('retry delays', () => {
  it('double per attempt up to maxDelayMs, with half of each step random', () => {
    expect([1, 2, 3, 4, 5, 6].map((a) => retryDelayMs(a, retry, null, () => 0))).toEqual([50, 100, 200, 400, 500, 500]);
    expect([1, 2, 3, 4, 5, 6].map((a) => retryDelayMs(a, retry, null, () => 1))).toEqual([100, 200, 400, 800, 1_000, 1_000]);
  });

  it('are never shorter than Retry-After, which is capped at maxRetryAfterMs', () => {
    expect(retryDelayMs(1, retry, 5_000, () => 0)).toBe(5_000);
    expect(retryDelayMs(4, retry, 0, () => 1)).toBe(800);
    expect(retryDelayMs(1, retry, 3_600_000, () => 0)).toBe(60_000);
  });

  it('read Retry-After as seconds or as an HTTP-date', () => {
    const at = Date.parse('2030-06-01T12:00:00Z'); // a fixed instant: the parse is relative to the one given
    expect(parseRetryAfter('7', at)).toBe(7_000);
    expect(parseRetryAfter(new Date(at + 2_000).toUTCString(), at)).toBe(2_000);
    expect(parseRetryAfter(new Date(at - 2_000).toUTCString(), at)).toBe(0);
    expect(parseRetryAfter(null, at)).toBeNull();
    expect(parseRetryAfter('soon', at)).toBeNull();
  });
});
