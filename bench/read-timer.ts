// The timed GETs of checks.ts timeReads, in a worker thread of their own. The bench's main thread has a heap of
// tens of MiB (its generator, its truth, tsx's modules); each of its full garbage collections marks all of it on
// the same two cores as the server, whose API reads run at niceness 19 and wait for any busy thread. Timed from
// here, a read's garbage is this thread's, and this thread holds little else. The main thread waits meanwhile.
import { parentPort, workerData } from 'node:worker_threads';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { getTail, majorGcs, sourceOfBytes, type Api } from './checks.js';

export interface TimerInput {
  api: Api;
  urls: string[];
}

export type TimerOutput =
  | { ok: true; ms: number[]; source: string; refused: number; loopMaxMs: number; majorGcs: number; majorGcMs: number }
  | { ok: false; url: string; status: number; body: string };

async function time({ api, urls }: TimerInput): Promise<TimerOutput> {
  // Untimed: this thread's first fetch (its connection, its code's first run), not the server's, is not a read's time.
  for (let i = 0; i < 3; i++) await (await fetch(`${api.base}/healthz`)).arrayBuffer();
  const ms: number[] = [];
  let source = '';
  let refused = 0;
  // This thread's own event loop (its GC, its reading of answers): a stall here is timed as a slow read.
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  const gcs = majorGcs();
  for (const url of urls) {
    const t0 = performance.now();
    const { status, bytes, tail } = await getTail(api, url);
    ms.push(performance.now() - t0);
    if (status === 200) source = sourceOfBytes(tail, tail.byteLength === bytes) ?? source;
    else {
      const body = new TextDecoder().decode(tail);
      if (status === 422 && body.includes('"read_limit_exceeded"')) refused++;
      else return { ok: false, url, status, body };
    }
  }
  loop.disable();
  const gc = gcs.stop();
  return { ok: true, ms, source, refused, loopMaxMs: loop.max / 1e6, majorGcs: gc.count, majorGcMs: gc.ms };
}

parentPort!.postMessage(await time(workerData as TimerInput));
