import { PerformanceObserver, constants } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { percentile } from './common.js';
import type { TimerInput, TimerOutput } from './read-timer.js';
import { jobsBetween, serverActivity } from './server-activity.js';

/** Read-side measurements of a running server, for npm run bench. */
export interface Api {
  base: string;
  key: string;
}

/**
 * A timed GET: every byte of the answer is received and counted, and only the last `keep` bytes are kept (a summary's
 * meta is there), the whole answer if it is not a 200. Not joined into one buffer: each 1 MB whole-tenant answer
 * joined was external memory this process collected with full garbage collections, on the same two cores as the
 * server, during later timed reads.
 */
export async function getTail(api: Api, path: string, keep = 4096): Promise<{ status: number; bytes: number; tail: Uint8Array }> {
  const res = await fetch(`${api.base}${path}`, { headers: { authorization: `Bearer ${api.key}` } });
  let bytes = 0;
  const kept: Uint8Array[] = [];
  let keptBytes = 0;
  for await (const chunk of res.body ?? []) {
    bytes += chunk.byteLength;
    kept.push(chunk);
    keptBytes += chunk.byteLength;
    // Chunks no longer needed for the last `keep` bytes are let go as they come.
    while (res.status === 200 && kept.length > 1 && keptBytes - kept[0]!.byteLength >= keep) keptBytes -= kept.shift()!.byteLength;
  }
  const joined = Buffer.concat(kept);
  return { status: res.status, bytes, tail: res.status === 200 ? joined.subarray(Math.max(0, joined.length - keep)) : joined };
}

/** This process's full (major) garbage collections from now until `stop`: how many, and their milliseconds. */
export function majorGcs(): { stop(): { count: number; ms: number } } {
  const seen = { count: 0, ms: 0 };
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      if ((entry as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind !== constants.NODE_PERFORMANCE_GC_MAJOR) continue;
      seen.count++;
      seen.ms += entry.duration;
    }
  });
  observer.observe({ entryTypes: ['gc'] });
  return {
    stop() {
      observer.disconnect();
      return { count: seen.count, ms: +seen.ms.toFixed(1) };
    },
  };
}

/**
 * A GET, its answer kept as bytes: a timed read then makes no string of a 10,000-row answer (about 1 MB, 2 MB as a JS
 * string) whose garbage this process would collect during a later timed read. Every byte is still received.
 */
export async function getBytes(api: Api, path: string, key = api.key): Promise<{ status: number; bytes: Uint8Array }> {
  const res = await fetch(`${api.base}${path}`, { headers: { authorization: `Bearer ${key}` } });
  return { status: res.status, bytes: new Uint8Array(await res.arrayBuffer()) };
}

async function get(api: Api, path: string, key = api.key): Promise<{ status: number; body: string }> {
  const { status, bytes } = await getBytes(api, path, key);
  return { status, body: new TextDecoder().decode(bytes) };
}

const failed = (path: string, status: number, body: string) => new Error(`GET ${path} answered ${status}: ${body.slice(0, 300)}`);

async function getJson<T>(api: Api, path: string, key = api.key): Promise<T> {
  const { status, body } = await get(api, path, key);
  if (status !== 200) throw failed(path, status, body);
  return JSON.parse(body) as T;
}

interface SummaryPage {
  data: { customerId: string; metricName: string; quantity: string; events: number }[];
  nextCursor: string | null;
  meta?: { source?: string };
}

/**
 * Whether the reconciler has caught up with `query`'s window (`from=...&to=...`): the summary reads none of its
 * windows from raw events (its `meta.rawWindows`, one row asked for).
 */
export async function reconciledWindow(api: Api, query: string): Promise<boolean> {
  return (await getJson<{ meta: { rawWindows: number } }>(api, `/v1/usage/summary?${query}&limit=1`)).meta.rawWindows === 0;
}

/** Exact addition of non-negative decimal strings with at most 9 fraction digits (the engine's scale). */
function addDecimal(a: string, b: string): string {
  const scale = 9;
  const toUnits = (s: string) => {
    const [int, frac = ''] = s.split('.');
    return BigInt(int!) * 10n ** BigInt(scale) + BigInt((frac + '0'.repeat(scale)).slice(0, scale));
  };
  const units = toUnits(a) + toUnits(b);
  const int = units / 10n ** BigInt(scale);
  const frac = (units % 10n ** BigInt(scale)).toString().padStart(scale, '0').replace(/0+$/, '');
  return frac ? `${int}.${frac}` : `${int}`;
}

/** The whole tenant's summary over [fromMs, toMs), every page: events and exact sum per metric. */
export async function summaryTotals(api: Api, fromMs: number, toMs: number): Promise<{ events: number; sums: Record<string, string> }> {
  let events = 0;
  const sums: Record<string, string> = {};
  let cursor: string | null = null;
  do {
    const page: SummaryPage = await getJson(
      api,
      `/v1/usage/summary?from=${fromMs}&to=${toMs}&limit=10000${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
    );
    for (const row of page.data) {
      events += row.events;
      sums[row.metricName] = addDecimal(sums[row.metricName] ?? '0', row.quantity);
    }
    cursor = page.nextCursor;
  } while (cursor);
  return { events, sums };
}

/** Equal up to trailing zeros of the fraction. */
export const sameDecimal = (a: string, b: string) => addDecimal(a, '0') === addDecimal(b, '0');

/** One freshness probe: what its event's acknowledgement and the reads until it was visible took. */
export interface FreshnessProbe {
  /** From the acknowledgement until a summary read counted the event. */
  ms: number;
  /** The POST of the event, until its acknowledgement. */
  ackMs: number;
  /** Summary reads until one counted the event (1: the first read after the acknowledgement did). */
  polls: number;
  /** The slowest of those reads: a probe of one slow read is a slow read, not a late event. */
  slowestPollMs: number;
  /** When it was acknowledged, seconds after the first probe started. */
  atS: number;
}

/**
 * Freshness: one event at a time, from its acknowledgement until the
 * summary of its (new) customer counts it. Polls without pause. Probes in the
 * order they ran.
 */
export async function freshness(api: Api, runs: number, nowMs: number): Promise<FreshnessProbe[]> {
  const probes: FreshnessProbe[] = [];
  const started = performance.now();
  for (let i = 0; i < runs; i++) {
    const customerId = `fresh-${nowMs}-${i}`;
    const event = { eventId: `fresh-${nowMs}-${i}`, customerId, metricName: 'api.calls', quantity: 1, timestamp: Date.now() };
    const sent = performance.now();
    const res = await fetch(`${api.base}/v1/events`, {
      method: 'POST',
      headers: { authorization: `Bearer ${api.key}`, 'content-type': 'application/json' },
      body: JSON.stringify(event),
    });
    await res.arrayBuffer();
    if (res.status !== 200) throw new Error(`freshness event answered ${res.status}`);
    const acked = performance.now();
    const from = Date.now() - 3_600_000;
    const to = Date.now() + 3_600_000;
    let polls = 0;
    let slowestPollMs = 0;
    for (;;) {
      const t0 = performance.now();
      const page: SummaryPage = await getJson(api, `/v1/usage/summary?from=${from}&to=${to}&customerId=${customerId}`);
      polls++;
      slowestPollMs = Math.max(slowestPollMs, performance.now() - t0);
      if (page.data[0]?.events === 1) break;
      if (performance.now() - acked > 30_000) throw new Error(`event ${event.eventId} not visible 30 s after its acknowledgement`);
    }
    const round = (x: number) => +x.toFixed(1);
    probes.push({
      ms: round(performance.now() - acked),
      ackMs: round(acked - sent),
      polls,
      slowestPollMs: round(slowestPollMs),
      atS: round((acked - started) / 1000),
    });
  }
  return probes;
}

/**
 * The answer's `meta.source`, parsed from the answer's tail (`"meta":{...},"nextCursor":...}`): parsing a whole
 * 10,000-row summary held this process's event loop and left garbage collected during the next timed read. Falls back
 * to parsing the whole answer when the tail is not that.
 */
export function sourceOf(body: string): string | undefined {
  const at = body.lastIndexOf('"meta":');
  if (at > 0) {
    try {
      return (JSON.parse(`{${body.slice(at)}`) as { meta?: { source?: string } }).meta?.source;
    } catch {
      // not the tail of an answer: parse it whole
    }
  }
  return (JSON.parse(body) as { meta?: { source?: string } }).meta?.source;
}

/**
 * sourceOf over an answer's bytes: only its tail is decoded, unless the tail is not an answer's. `whole`: the bytes
 * are the whole answer (false: only its last bytes, as getTail keeps them, and a meta not among them is an error).
 */
export function sourceOfBytes(bytes: Uint8Array, whole = true): string | undefined {
  const decoder = new TextDecoder();
  const tail = decoder.decode(bytes.subarray(Math.max(0, bytes.length - 4096)));
  const at = tail.lastIndexOf('"meta":');
  if (at > 0) {
    try {
      return (JSON.parse(`{${tail.slice(at)}`) as { meta?: { source?: string } }).meta?.source;
    } catch {
      // not the tail of an answer: read it whole
    }
  }
  if (!whole) throw new Error(`the answer's meta is not in its last ${bytes.length} bytes`);
  return sourceOf(decoder.decode(bytes));
}

/** Times `input.urls` one after another in a worker thread of bench/read-timer.ts, and ends it. */
async function inReadTimer(input: TimerInput): Promise<TimerOutput> {
  // The bench runs under tsx, whose loader a worker thread does not inherit: the worker registers it, then loads the
  // timer (TypeScript).
  const timer = new URL('./read-timer.ts', import.meta.url).href;
  const tsx = import.meta.resolve('tsx/esm/api');
  const boot = `import(${JSON.stringify(tsx)}).then(({ register }) => { register(); return import(${JSON.stringify(timer)}); })`;
  const worker = new Worker(boot, { eval: true, workerData: input });
  try {
    return await new Promise<TimerOutput>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
      worker.once('exit', (code) => reject(new Error(`the read timer exited (${code}) before it answered`)));
    });
  } finally {
    await worker.terminate();
  }
}

/**
 * Timed GETs of each query, from a worker thread of their own (bench/read-timer.ts). Each read's first call, timed
 * alone (the first of its kind in this phase: the engine's caches and the server's per-process caches may be cold),
 * then `runs` more (a query's own `runs` if it has one), whose p50 and p99 are by nearest rank (common.ts): p99 of 100
 * runs is the 99th slowest, of 30 the slowest. A read the server refuses at one of its read limits (422
 * `read_limit_exceeded`: the engine stopped it) is timed like any answer and counted in `refused`; any other failure
 * ends the run. With each query, what else the server did meanwhile (serverActivity before and after its reads): its
 * event loop's longest delay, its full garbage collections, the job runs finished; and the timing thread's own event
 * loop's longest delay and full collections.
 */
export async function timeReads(api: Api, queries: { name: string; url: (i: number) => string; runs?: number }[], runs: number) {
  const out: {
    name: string;
    source: string;
    firstMs: number;
    runs: number;
    p50Ms: number;
    p99Ms: number;
    refused: number;
    eventLoopMaxMs: number;
    benchLoopMaxMs: number;
    serverMajorGcs: number;
    serverMajorGcMs: number;
    benchMajorGcs: number;
    benchMajorGcMs: number;
    jobsFinished: string;
  }[] = [];
  for (const q of queries) {
    const timed = q.runs ?? runs;
    const before = await serverActivity(api.base);
    const timer = await inReadTimer({ api, urls: Array.from({ length: timed + 1 }, (_, i) => q.url(i)) });
    if (!timer.ok) throw failed(timer.url, timer.status, timer.body);
    const [firstMs, ...ms] = timer.ms;
    // What else the server did during these reads: its event loop's longest delay, and the job runs that finished.
    const after = await serverActivity(api.base);
    const jobsFinished = jobsBetween(before.jobs, after.jobs)
      .map((j) => `${j.job} ${j.ok + j.failed} (${j.seconds} s)`)
      .join(', ');
    ms.sort((a, b) => a - b);
    out.push({
      name: q.name,
      source: timer.source,
      firstMs: +firstMs!.toFixed(1),
      runs: timed,
      p50Ms: +percentile(ms, 50).toFixed(1),
      p99Ms: +percentile(ms, 99).toFixed(1),
      refused: timer.refused,
      eventLoopMaxMs: after.eventLoopMaxMs,
      benchLoopMaxMs: +timer.loopMaxMs.toFixed(1),
      serverMajorGcs: after.majorGcs - before.majorGcs,
      serverMajorGcMs: +(after.majorGcMs - before.majorGcMs).toFixed(1),
      benchMajorGcs: timer.majorGcs,
      benchMajorGcMs: timer.majorGcMs,
      jobsFinished,
    });
  }
  return out;
}

/** Bytes on disk per stored event, per table (active parts, as the engine reports them). */
export async function bytesPerEvent(api: Api, operatorKey: string, storedEvents: number, tables: readonly string[]) {
  const view = await getJson<{ tables: { table: string; rows: number; bytes: number; parts: number }[] }>(api, '/v1/operator/storage', operatorKey);
  return tables.map((table) => {
    const parts = view.tables.filter((t) => t.table === table);
    const bytes = parts.reduce((s, t) => s + t.bytes, 0);
    const rows = parts.reduce((s, t) => s + t.rows, 0);
    return { table, rows, parts: parts.reduce((s, t) => s + t.parts, 0), bytesPerEvent: +(bytes / storedEvents).toFixed(1) };
  });
}
