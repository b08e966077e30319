import { readdir, readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { engine } from './harness.js';
import { select } from './upgrade.js';
import { execute } from '../sql/query.js';

/** This process's threads whose name starts with `prefix`, each with its Linux nice value (from /proc: the engine runs in-process). */
async function threadNices(prefix: string): Promise<number[]> {
  const nices: number[] = [];
  for (const tid of await readdir('/proc/self/task')) {
    const stat = await readFile(`/proc/self/task/${tid}/stat`, 'utf8').catch(() => '');
    const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    // Fields after the name: state is field 3 and nice field 19, so nice is the 17th of them.
    if (name.startsWith(prefix)) nices.push(Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]));
  }
  return nices;
}

describe('ENGINE_MERGE_NICE: the embedded engine merges at a lower CPU priority', () => {
  it('runs its merges on threads at the configured nice value, and its queries at the process own', async () => {
    const { deps } = await engine({ ENGINE_MERGE_NICE: '7' });
    const db = deps.db;
    const [setting] = await select<{ value: string }>(db, `SELECT value FROM system.server_settings WHERE name = 'os_threads_nice_value_merge_mutate'`);
    expect(setting?.value).toBe('7');

    // Thirty one-row parts: the engine merges them in the background, on its merge threads.
    await execute(db, 'test.create', `CREATE TABLE ${db.database}.merge_priority (n UInt64) ENGINE = MergeTree ORDER BY n`);
    for (let n = 0; n < 30; n++) await execute(db, 'test.insert', `INSERT INTO ${db.database}.merge_priority VALUES (${n})`);
    const activeParts = async () =>
      Number(
        (
          await select<{ parts: string }>(
            db,
            `SELECT toString(count()) AS parts FROM system.parts WHERE database = {database:String} AND table = 'merge_priority' AND active`,
            {
              database: db.database,
            },
          )
        )[0]?.parts,
      );

    // Watch the merge threads until the parts are merged: a merge thread seen at nice 7.
    const seen = new Set<number>();
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      for (const nice of await threadNices('MergeMutate')) seen.add(nice);
      if (seen.has(7) && (await activeParts()) < 30) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    expect(await activeParts()).toBeLessThan(30);
    expect([...seen]).toContain(7);
    // Everything else keeps the process's priority: the thread that runs this test (and calls the engine).
    const [mainThread] = (await readFile('/proc/self/stat', 'utf8'))
      .split(') ')
      .slice(1)
      .map((rest) => Number(rest.split(' ')[16]));
    expect(mainThread).toBe(0);
    const [total] = await select<{ n: string }>(db, `SELECT toString(sum(n)) AS n FROM ${db.database}.merge_priority`);
    expect(total?.n).toBe(String((29 * 30) / 2));
  });
});
