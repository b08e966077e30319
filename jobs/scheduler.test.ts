import { describe, expect, it } from 'vitest';
import { capturedLogger, LEVEL } from '../test/captured-logger.js';
import { restAfter, runJob, startJobs, type JobWork } from './scheduler.js';

const { info: INFO, debug: DEBUG, error: ERROR } = LEVEL;

describe('runJob', () => {
  const job = (work: () => Promise<JobWork>) => ({ name: 'test.job', cron: '* * * * *', run: work });

  it('logs at info what a run did', async () => {
    const log = capturedLogger();
    await runJob(
      job(async () => ({ windowsRewritten: 3 })),
      log.logger,
    );
    expect(log.at(INFO)).toEqual([expect.objectContaining({ job: 'test.job', windowsRewritten: 3, msg: 'job did work' })]);
  });

  it('logs a run with nothing to do at debug only', async () => {
    const log = capturedLogger();
    await runJob(
      job(async () => undefined),
      log.logger,
    );
    expect(log.at(INFO)).toEqual([]);
    expect(log.at(DEBUG)).toEqual([expect.objectContaining({ job: 'test.job', msg: 'job done: nothing to do' })]);
  });

  it('logs a failed run at error and does not throw', async () => {
    const log = capturedLogger();
    await runJob(
      job(() => Promise.reject(new Error('engine gone'))),
      log.logger,
    );
    expect(log.at(ERROR)).toEqual([expect.objectContaining({ job: 'test.job', err: 'engine gone' })]);
  });
});

describe('restAfter', () => {
  it('keeps a job to its share of the time: it rests (1 / share - 1) times as long as it ran', () => {
    expect(restAfter(10_000, 0.25)).toBe(30_000);
    expect(restAfter(10_000, 0.5)).toBe(10_000);
    expect(restAfter(10_000, 1)).toBe(0);
    expect(restAfter(10_000)).toBe(0);
    // run 10 s, rest 30 s: 10 of every 40 s
    expect(10_000 / (10_000 + restAfter(10_000, 0.25))).toBe(0.25);
  });
});

describe('startJobs', () => {
  it('a job with maxShare skips its schedule while it rests after a run', async () => {
    const runs: { start: number; end: number }[] = [];
    const log = capturedLogger();
    // Every second; each run takes 600 ms; a quarter of the time at most: 1,800 ms of rest after each.
    const scheduler = startJobs(
      [
        {
          name: 'test.resting',
          cron: '* * * * * *',
          maxShare: 0.25,
          run: async () => {
            const start = performance.now();
            await new Promise((r) => setTimeout(r, 600));
            runs.push({ start, end: performance.now() });
            return undefined;
          },
        },
      ],
      log.logger,
    );
    await new Promise((r) => setTimeout(r, 6_500));
    await scheduler.stop();
    expect(runs.length).toBeGreaterThanOrEqual(2);
    for (let i = 1; i < runs.length; i++) {
      const ran = runs[i - 1]!.end - runs[i - 1]!.start;
      expect(runs[i]!.start - runs[i - 1]!.end).toBeGreaterThanOrEqual(restAfter(ran, 0.25) - 5);
    }
    expect(log.at(DEBUG).filter((l) => l.msg === 'job skipped: resting after a long run (maxShare)').length).toBeGreaterThanOrEqual(1);
  }, 15_000);
});
