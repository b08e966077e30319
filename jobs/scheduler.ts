import { Cron } from 'croner';
import type { Logger } from 'pino';

/** What a run did, for the log; undefined when it had nothing to do. */
export type JobWork = Record<string, unknown> | undefined;

export interface Job {
  name: string;
  /** croner pattern; six fields allow seconds. */
  cron: string;
  run(): Promise<JobWork>;
  /**
   * The most of the time this job may spend running (0 < share <= 1; absent: 1). After a run of
   * d ms it skips its scheduled times for d x (1 / share - 1) ms, so a job whose work grows with
   * the data (the reconciler during a large backfill) cannot take over the engine from ingest.
   */
  maxShare?: number;
}

/** How long a job rests after a run of `durationMs`, so it runs at most `maxShare` of the time. */
export function restAfter(durationMs: number, maxShare = 1): number {
  return durationMs * (1 / maxShare - 1);
}

/**
 * One run of a job, logged: at info only when it did work (an operator sees
 * exports written and windows rewritten), at debug when it had nothing to do
 * (most runs: a line per run would drown the log), at error when it failed.
 */
export async function runJob(job: Job, logger: Logger): Promise<void> {
  const started = performance.now();
  try {
    const work = await job.run();
    const fields = { job: job.name, ms: Math.round(performance.now() - started) };
    if (work === undefined) logger.debug(fields, 'job done: nothing to do');
    else logger.info({ ...fields, ...work }, 'job did work');
  } catch (error) {
    logger.error({ job: job.name, err: error instanceof Error ? error.message : String(error) }, 'job failed; it runs again on schedule');
  }
}

/**
 * Run jobs on their schedules; a run never overlaps the previous run of the
 * same job, and a job with a maxShare rests after each run in proportion to it. `stop()` cancels the schedules and waits for runs in flight, so
 * the engine is never closed under a running job.
 */
export function startJobs(jobs: readonly Job[], logger: Logger): { stop(): Promise<void> } {
  const inFlight = new Set<Promise<void>>();
  const crons = jobs.map((job) => {
    let restUntil = 0;
    return new Cron(job.cron, { name: job.name, protect: true }, () => {
      if (performance.now() < restUntil) {
        logger.debug({ job: job.name, restingMs: Math.round(restUntil - performance.now()) }, 'job skipped: resting after a long run (maxShare)');
        return;
      }
      const started = performance.now();
      const run = runJob(job, logger).finally(() => {
        const ended = performance.now();
        restUntil = ended + restAfter(ended - started, job.maxShare);
      });
      inFlight.add(run);
      return run.finally(() => inFlight.delete(run));
    });
  });
  return {
    async stop() {
      crons.forEach((c) => c.stop());
      await Promise.all(inFlight);
    },
  };
}
