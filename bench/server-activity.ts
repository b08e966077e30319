/** What the bench's server did, from its /metrics: its scheduled jobs, its event loop's longest delay, its full GCs. */

export type JobTotals = Record<string, { ok: number; failed: number; seconds: number }>;

/**
 * From the server's /metrics (no key: process-wide totals only): what its
 * scheduled jobs had done so far, and the longest delay of its event loop
 * since the previous scrape (prom-client resets that histogram on each
 * scrape, so the bench's snapshots cut it into phases; nothing else scrapes
 * the bench's server).
 */
export async function serverActivity(base: string): Promise<{ jobs: JobTotals; eventLoopMaxMs: number; majorGcs: number; majorGcMs: number }> {
  const res = await fetch(`${base}/metrics`);
  if (res.status !== 200) throw new Error(`GET /metrics answered ${res.status}`);
  const jobs: JobTotals = {};
  const job = (name: string) => (jobs[name] ??= { ok: 0, failed: 0, seconds: 0 });
  let eventLoopMaxMs = NaN;
  // The server's full garbage collections so far (prom-client's GC histogram): each holds its event loop.
  let majorGcs = 0;
  let majorGcMs = 0;
  for (const line of (await res.text()).split('\n')) {
    const runs = /^meterhouse_job_runs_total\{name="([^"]+)",outcome="(ok|failed)"\} (\S+)$/.exec(line);
    if (runs) job(runs[1]!)[runs[2] as 'ok' | 'failed'] = Number(runs[3]);
    const sum = /^meterhouse_job_duration_seconds_sum\{name="([^"]+)"\} (\S+)$/.exec(line);
    if (sum) job(sum[1]!).seconds = +Number(sum[2]).toFixed(1);
    const lagMax = /^nodejs_eventloop_lag_max_seconds (\S+)$/.exec(line);
    if (lagMax) eventLoopMaxMs = +(Number(lagMax[1]) * 1000).toFixed(1);
    const gc = /^nodejs_gc_duration_seconds_(count|sum)\{kind="major"\} (\S+)$/.exec(line);
    if (gc?.[1] === 'count') majorGcs = Number(gc[2]);
    else if (gc) majorGcMs = Number(gc[2]) * 1000;
  }
  return { jobs, eventLoopMaxMs, majorGcs, majorGcMs };
}

/** The jobs that finished runs between two snapshots of serverActivity: runs and seconds of each. */
export function jobsBetween(before: JobTotals, after: JobTotals) {
  return Object.entries(after)
    .map(([name, a]) => {
      const b = before[name] ?? { ok: 0, failed: 0, seconds: 0 };
      return { job: name, ok: a.ok - b.ok, failed: a.failed - b.failed, seconds: +(a.seconds - b.seconds).toFixed(1) };
    })
    .filter((j) => j.ok + j.failed > 0);
}
