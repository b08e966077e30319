import { describe, expect, it } from 'vitest';
import { StatementChain } from './statement-chain.js';

const tick = () => new Promise((ok) => setTimeout(ok, 1));

describe('StatementChain', () => {
  it('runs statements one after another, in the order they were sent', async () => {
    const chain = new StatementChain(async () => undefined);
    const log: string[] = [];
    const step = (name: string) => async () => {
      log.push(`${name} start`);
      await tick();
      log.push(`${name} end`);
      return name;
    };
    expect(await Promise.all([chain.run(step('a')), chain.run(step('b')), chain.run(step('c'))])).toEqual(['a', 'b', 'c']);
    expect(log).toEqual(['a start', 'a end', 'b start', 'b end', 'c start', 'c end']);
  });

  it('drains after a failure, before the next statement, which was already waiting', async () => {
    const log: string[] = [];
    const chain = new StatementChain(async () => void log.push('drain'));
    const failing = chain.run(async () => {
      log.push('fails');
      throw new Error('stopped');
    });
    const next = chain.run(async () => void log.push('next'));
    await expect(failing).rejects.toThrow('stopped');
    await next;
    await chain.run(async () => void log.push('after'));
    expect(log).toEqual(['fails', 'drain', 'next', 'after']);
  });

  it('a drain that fails is tried again before the next statement, which fails with its error if it fails again', async () => {
    const log: string[] = [];
    let drainsToFail = 2;
    const chain = new StatementChain(async () => {
      log.push('drain');
      if (drainsToFail-- > 0) throw new Error('drain failed');
    });
    await expect(chain.run(() => Promise.reject(new Error('stopped')))).rejects.toThrow('stopped');
    // The drain right after the failure failed; the next statement's own attempt fails too: it never runs.
    await expect(chain.run(async () => void log.push('never'))).rejects.toThrow('drain failed');
    await chain.run(async () => void log.push('runs'));
    expect(log).toEqual(['drain', 'drain', 'drain', 'runs']);
  });
});
