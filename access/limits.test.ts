import { describe, expect, it } from 'vitest';
import { IngestRate, LimitExceededError, ReadSlots } from './limits.js';

function refusal(f: () => void): LimitExceededError | undefined {
  try {
    f();
    return undefined;
  } catch (error) {
    if (error instanceof LimitExceededError) return error;
    throw error;
  }
}

describe('IngestRate', () => {
  it('gives each tenant its rate per second, refuses past it with a retry time, and refills', () => {
    let t = 0;
    const rate = new IngestRate(() => t);
    rate.take('a', 6, 10);
    rate.take('a', 4, 10);
    const refused = refusal(() => rate.take('a', 1, 10));
    expect(refused?.code).toBe('ingest_rate_limited');
    expect(refused?.retryAfterSeconds).toBe(1);
    rate.take('b', 10, 10); // another tenant has its own bucket
    t = 500;
    rate.take('a', 5, 10);
    expect(refusal(() => rate.take('a', 1, 10))).toBeDefined();
  });

  it('admits a batch larger than a second of events when the bucket is full, then waits off the debt', () => {
    let t = 0;
    const rate = new IngestRate(() => t);
    rate.take('a', 35, 10);
    const refused = refusal(() => rate.take('a', 10, 10));
    expect(refused?.retryAfterSeconds).toBe(4); // 25 events of debt plus 10 needed, at 10/s
    t = 3_000;
    expect(refusal(() => rate.take('a', 10, 10))).toBeDefined();
    t = 4_000;
    rate.take('a', 10, 10);
  });
});

describe('ReadSlots', () => {
  it('holds at most the limit per tenant and gives slots back once', () => {
    const slots = new ReadSlots();
    const r1 = slots.acquire('a', 2);
    const r2 = slots.acquire('a', 2);
    expect(refusal(() => slots.acquire('a', 2))?.code).toBe('too_many_concurrent_reads');
    slots.acquire('b', 2)();
    r1();
    r1();
    expect(slots.inProgress('a')).toBe(1);
    slots.acquire('a', 2);
    expect(refusal(() => slots.acquire('a', 2))).toBeDefined();
    r2();
  });
});
