/**
 * Long loops on the event loop (a close run's hundreds of thousands of days,
 * periods and lines): `await slice()` inside one lets timers, I/O and requests
 * in once it has run for `sliceMs` since it last did. A count of iterations
 * bounds nothing: the same count costs 5 ms warm and 100 ms in a process's
 * first run (luxon, zod and V8 still cold).
 */
export function timeSlices(sliceMs = 10): () => Promise<void> {
  let since = performance.now();
  return async () => {
    if (performance.now() - since < sliceMs) return;
    await new Promise((resolve) => setImmediate(resolve));
    since = performance.now();
  };
}
