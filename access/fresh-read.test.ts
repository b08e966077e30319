import { describe, expect, it } from 'vitest';
import { FreshRead } from './fresh-read.js';

/** A read whose answer is the number of reads started so far, finished by hand. */
function manualReads() {
  const pending: (() => void)[] = [];
  let started = 0;
  const read = () => {
    const n = ++started;
    return new Promise<number>((resolve) => pending.push(() => resolve(n)));
  };
  return { read, started: () => started, finishOldest: () => pending.shift()!() };
}

describe('FreshRead', () => {
  it('gives every caller a read that started after it asked, and lets callers who ask meanwhile share the next one', async () => {
    const reads = manualReads();
    const table = new FreshRead(reads.read);
    const first = table.get();
    expect(reads.started()).toBe(1);
    // Asked while read 1 runs: read 1 may predate a change they must see, so they wait for read 2, together.
    const second = table.get();
    const third = table.get();
    expect(reads.started()).toBe(1);
    reads.finishOldest();
    expect(await first).toBe(1);
    await new Promise((r) => setImmediate(r));
    expect(reads.started()).toBe(2);
    reads.finishOldest();
    expect(await second).toBe(2);
    expect(await third).toBe(2);
    // Nothing running: a new caller starts its own read at once.
    const fourth = table.get();
    expect(reads.started()).toBe(3);
    reads.finishOldest();
    expect(await fourth).toBe(3);
  });

  it('a failed read fails its callers only; the next caller reads again', async () => {
    let calls = 0;
    const table = new FreshRead(async () => {
      calls++;
      if (calls === 1) throw new Error('engine busy');
      return calls;
    });
    const failed = table.get();
    const waiting = table.get();
    await expect(failed).rejects.toThrow('engine busy');
    expect(await waiting).toBe(2);
    expect(await table.get()).toBe(3);
  });
});
