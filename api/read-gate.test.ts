import { describe, expect, it } from 'vitest';
import type { Db } from '../sql/query.js';
import { ReadGate, ReadersBusyError } from './read-gate.js';

const reader = (name: string) => ({ database: name }) as unknown as Db;

describe('ReadGate', () => {
  it('leases each reader to one read at a time and hands a released reader to the oldest waiter', async () => {
    const gate = new ReadGate([reader('a')], { maxQueued: 5, queueTimeoutMs: 60_000 });
    const first = await gate.acquire();
    const order: string[] = [];
    const second = gate.acquire().then((r) => (order.push('second'), r));
    const third = gate.acquire().then((r) => (order.push('third'), r));
    expect(gate.waiting).toBe(2);
    gate.release(first);
    const got = await second;
    expect(got).toBe(first);
    expect(order).toEqual(['second']);
    gate.release(got);
    gate.release(await third);
    expect(gate.idle).toBe(1);
  });

  it('refuses at once (429) when the queue is full', async () => {
    const gate = new ReadGate([reader('a')], { maxQueued: 1, queueTimeoutMs: 60_000 });
    const held = await gate.acquire();
    const waiting = gate.acquire();
    const refused = await gate.acquire().catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ReadersBusyError);
    expect((refused as ReadersBusyError).status).toBe(429);
    expect((refused as ReadersBusyError).headers).toEqual({ 'Retry-After': '1' });
    gate.release(held);
    gate.release(await waiting);
  });

  it('refuses a waiter whose turn does not come within the queue timeout, and forgets it', async () => {
    const gate = new ReadGate([reader('a')], { maxQueued: 4, queueTimeoutMs: 20 });
    const held = await gate.acquire();
    const refused = await gate.acquire().catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ReadersBusyError);
    expect((refused as Error).message).toMatch(/READ_QUEUE_TIMEOUT_MS/);
    expect(gate.waiting).toBe(0);
    gate.release(held);
    expect(gate.idle).toBe(1);
  });
});
