import { mkdir, writeFile } from 'node:fs/promises';

/**
 * Shared by the benchmarks: an HTTP ingest driver, percentiles, the results file.
 *
 * The p-th percentile of ascending `sorted` by nearest rank: the smallest value that at least p% of
 * the values are at or below (rank ceil(p/100 * n)). p99 of 30 values is their maximum; of 100, the
 * 99th; of 200, the 198th.
 */
export function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p * sorted.length) / 100) - 1))]!;
}

/**
 * A benchmark's numeric setting from the environment (BENCH_...): `fallback` when it is unset or empty. A value that is
 * not a finite number is refused with its name, instead of running the benchmark with NaN.
 */
export function envNumber(name: string, fallback: number): number {
  const value = process.env[name];
  if (value === undefined || value.trim() === '') return fallback;
  const n = Number(value);
  if (!Number.isFinite(n)) throw new Error(`${name}=${JSON.stringify(value)} is not a number`);
  return n;
}

export interface IngestRun {
  sent: number;
  accepted: number;
  duplicates: number;
  seconds: number;
  /** Request times, sorted ascending. */
  requestMs: number[];
}

/** A request body built before the clock starts, and how many events it holds. */
export interface PreparedBody {
  body: Buffer;
  events: number;
}

/** Serialize every batch up front (off the V8 heap), so the timed run spends nothing on building load. */
export function prepareBodies(batches: Iterable<object[]>): PreparedBody[] {
  return Array.from(batches, (b) => ({ body: Buffer.from(JSON.stringify(b)), events: b.length }));
}

/** `clients` concurrent clients POST the prepared bodies to /v1/events; every answer must be 200. */
export async function ingestOverHttp(base: string, key: string, bodies: Iterable<PreparedBody>, clients: number, progressEvery: number): Promise<IngestRun> {
  const batches = bodies[Symbol.iterator]();
  const run: IngestRun = { sent: 0, accepted: 0, duplicates: 0, seconds: 0, requestMs: [] };
  const started = performance.now();
  async function client() {
    for (let next = batches.next(); !next.done; next = batches.next()) {
      const t0 = performance.now();
      const res = await fetch(`${base}/v1/events`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: new Uint8Array(next.value.body),
      });
      const body = (await res.json()) as { accepted: number; duplicates: number };
      if (res.status !== 200) throw new Error(`ingest answered ${res.status}: ${JSON.stringify(body).slice(0, 300)}`);
      run.requestMs.push(performance.now() - t0);
      const before = run.sent;
      run.sent += next.value.events;
      run.accepted += body.accepted;
      run.duplicates += body.duplicates;
      if (Math.floor(run.sent / progressEvery) > Math.floor(before / progressEvery))
        process.stderr.write(`  ingested ${run.sent.toLocaleString()} events, ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
    }
  }
  await Promise.all(Array.from({ length: clients }, client));
  run.seconds = (performance.now() - started) / 1000;
  run.requestMs.sort((a, b) => a - b);
  return run;
}

/** Write a run's figures to bench/results/<name>-<time>.json and say where. */
export async function writeResults(name: string, results: object): Promise<void> {
  await mkdir('bench/results', { recursive: true });
  const file = `bench/results/${name}-${new Date().toISOString().replaceAll(':', '-')}.json`;
  await writeFile(file, JSON.stringify(results, null, 2));
  console.log(`figures written to ${file}`);
}
