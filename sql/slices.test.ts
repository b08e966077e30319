import { describe, expect, it } from 'vitest';
import { timeSlices } from './slices.js';

describe('timeSlices', () => {
  it('lets a timer in during a long loop once a slice has run, and not before', async () => {
    const slice = timeSlices(5);
    let fired = 0;
    const timer = setInterval(() => fired++, 0);
    try {
      // Well under a slice: no turn of the event loop, so the timer cannot fire.
      await slice();
      expect(fired).toBe(0);
      const end = performance.now() + 60;
      while (performance.now() < end) await slice();
      // 60 ms of work in 5 ms slices: the timer ran between them (a loop without slices would give it no turn).
      expect(fired).toBeGreaterThan(3);
    } finally {
      clearInterval(timer);
    }
  });
});
