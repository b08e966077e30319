import { describe, expect, it } from 'vitest';
import { capturedLogger, LEVEL } from '../test/captured-logger.js';
import { runJob, type JobWork } from './scheduler.js';

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
