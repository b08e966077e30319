import { describe, expect, it } from 'vitest';
import type { EventRow } from './normalise.js';
import { PendingRow, WriteCall } from './write-call.js';

const row = (eventId: string) => ({ tenant_id: 't', event_id: eventId }) as EventRow;

/** Whether the promise has settled by the time queued callbacks have run, and how. */
async function state<T>(promise: Promise<T>): Promise<{ settled: false } | { settled: true; value?: T; error?: unknown }> {
  let result: { settled: false } | { settled: true; value?: T; error?: unknown } = { settled: false };
  promise.then(
    (value) => (result = { settled: true, value }),
    (error: unknown) => (result = { settled: true, error }),
  );
  await new Promise((r) => setImmediate(r));
  return result;
}

describe('WriteCall and PendingRow', () => {
  it('answers every row in the order of the call, whatever order its rows settle in', async () => {
    const call = new WriteCall(3);
    const rows = ['a', 'b', 'c'].map((id, i) => new PendingRow(row(id), call, i));
    rows[2]!.resolve('refused');
    rows[0]!.resolve('accepted');
    expect(await state(call.done)).toEqual({ settled: false });
    rows[1]!.resolve('duplicate');
    expect(await call.done).toEqual(['accepted', 'duplicate', 'refused']);
  });

  it('answers a call of no rows at once', async () => {
    expect(await new WriteCall(0).done).toEqual([]);
  });

  it('settles each row once: a second answer for one row neither counts nor replaces the first', async () => {
    const call = new WriteCall(2);
    const first = new PendingRow(row('a'), call, 0);
    const second = new PendingRow(row('b'), call, 1);
    first.resolve('accepted');
    first.resolve('duplicate');
    first.reject(new Error('late'));
    expect(await state(call.done)).toEqual({ settled: false });
    second.resolve('accepted');
    expect(await call.done).toEqual(['accepted', 'accepted']);
  });

  it('fails the call with the first row error; later errors and answers change nothing', async () => {
    const call = new WriteCall(3);
    const rows = ['a', 'b', 'c'].map((id, i) => new PendingRow(row(id), call, i));
    const boom = new Error('insert failed');
    rows[0]!.resolve('accepted');
    rows[1]!.reject(boom);
    rows[2]!.reject(new Error('second failure'));
    const answer = await state(call.done);
    expect(answer).toEqual({ settled: true, error: boom });
    rows[1]!.resolve('accepted');
    expect(await state(call.done)).toEqual({ settled: true, error: boom });
  });
});
