import { Cron } from 'croner';
import type { Logger } from 'pino';

export interface Job {
  name: string;
  /** croner pattern; six fields allow seconds. */
  cron: string;
  run(): Promise<unknown>;
}

/**
 * Run jobs on their schedules; a run never overlaps the previous run of the
 * same job. `stop()` cancels the schedules and waits for runs in flight, so
 * the engine is never closed under a running job.
 */
export function startJobs(jobs: readonly Job[], logger: Logger): { stop(): Promise<void> } {
  const inFlight = new Set<Promise<void>>();
  const crons = jobs.map(
    (job) =>
      new Cron(job.cron, { name: job.name, protect: true }, () => {
        const run = runOnce(job);
        inFlight.add(run);
        return run.finally(() => inFlight.delete(run));
      }),
  );
  async function runOnce(job: Job): Promise<void> {
    const started = performance.now();
    try {
      const result = await job.run();
      logger.debug({ job: job.name, ms: Math.round(performance.now() - started), result }, 'job done');
    } catch (error) {
      logger.error({ job: job.name, err: error instanceof Error ? error.message : String(error) }, 'job failed; it runs again on schedule');
    }
  }
  return {
    async stop() {
      crons.forEach((c) => c.stop());
      await Promise.all(inFlight);
    },
  };
}
