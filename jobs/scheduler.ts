import { Cron } from 'croner';
import type { Logger } from 'pino';

export interface Job {
  name: string;
  /** croner pattern; six fields allow seconds. */
  cron: string;
  run(): Promise<unknown>;
}

/** Run jobs on their schedules; a run never overlaps the previous run of the same job. */
export function startJobs(jobs: readonly Job[], logger: Logger): { stop(): void } {
  const crons = jobs.map(
    (job) =>
      new Cron(job.cron, { name: job.name, protect: true }, async () => {
        const started = performance.now();
        try {
          const result = await job.run();
          logger.debug({ job: job.name, ms: Math.round(performance.now() - started), result }, 'job done');
        } catch (error) {
          logger.error({ job: job.name, err: error instanceof Error ? error.message : String(error) }, 'job failed; it runs again on schedule');
        }
      }),
  );
  return { stop: () => crons.forEach((c) => c.stop()) };
}
