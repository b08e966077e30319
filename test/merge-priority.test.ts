import { readdir, readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { engine } from './harness.js';
import { select } from './upgrade.js';
import { execute } from '../sql/query.js';
import { pollUntil } from './s3.js';

/** The Linux nice value in a /proc stat line: field 19, the 17th after the ")" that ends the thread's name (a name may hold one). */
const niceOf = (stat: string) => Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);

/** This process's threads whose name starts with `prefix`, each with its Linux nice value (from /proc: the engine runs in-process). */
async function threadNices(prefix: string): Promise<number[]> {
  const nices: number[] = [];
  for (const tid of await readdir('/proc/self/task')) {
    const stat = await readFile(`/proc/self/task/${tid}/stat`, 'utf8').catch(() => '');
    if (stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')).startsWith(prefix)) nices.push(niceOf(stat));
  }
  return nices;
}

// 180 s: the engine's start, the inserts and the merges, on a machine that may run other test files at nice 0 beside it.
describe('ENGINE_MERGE_NICE: the embedded engine merges at a lower CPU priority', () => {
  it('runs its merges on threads at the configured nice value, and its queries at the process own', async () => {
    const { deps } = await engine({ ENGINE_MERGE_NICE: '7' });
    const db = deps.db;
    const [setting] = await select<{ value: string }>(db, `SELECT value FROM system.server_settings WHERE name = 'os_threads_nice_value_merge_mutate'`);
    expect(setting?.value).toBe('7');

    // Twenty parts of 200,000 rows: the engine merges them in the background, on its merge threads, each merge
    // long enough (a large part's rows rewritten) to be seen while it runs.
    const PARTS = 20;
    const ROWS = 200_000;
    await execute(db, 'test.create', `CREATE TABLE ${db.database}.merge_priority (n UInt64, s String) ENGINE = MergeTree ORDER BY n`);
    const activeParts = async () =>
      Number(
        (
          await select<{ parts: string }>(
            db,
            `SELECT toString(count()) AS parts FROM system.parts WHERE database = {database:String} AND table = 'merge_priority' AND active`,
            { database: db.database },
          )
        )[0]?.parts,
      );

    // Watch the merge threads from the first insert on until one is seen at nice 7 and the parts are merged.
    const seen = new Set<number>();
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        for (const nice of await threadNices('MergeMutate')) seen.add(nice);
        await new Promise((r) => setTimeout(r, 2));
      }
    })();
    for (let p = 0; p < PARTS; p++)
      await execute(db, 'test.insert', `INSERT INTO ${db.database}.merge_priority SELECT number, toString(number) FROM numbers(${p * ROWS}, ${ROWS})`);
    // Under a full CI machine, merges at nice 7 get a small share of the CPU: they finish, later. pollUntil fails the
    // test, with what it last saw, unless a merge thread was seen at nice 7 and the parts were merged.
    await pollUntil(
      'a merge thread at nice 7 and the parts merged',
      async () => ({ nices: [...seen], parts: await activeParts() }),
      (v) => v.nices.includes(7) && v.parts < PARTS,
      150_000,
    ).finally(async () => {
      watching = false;
      await watcher;
    });
    // Everything else keeps the process's priority: the thread that runs this test (and calls the engine).
    expect(niceOf(await readFile('/proc/self/stat', 'utf8'))).toBe(0);
    const [total] = await select<{ n: string; rows: string }>(db, `SELECT toString(sum(n)) AS n, toString(count()) AS rows FROM ${db.database}.merge_priority`);
    const all = PARTS * ROWS;
    expect(total).toEqual({ n: String((all * (all - 1)) / 2), rows: String(all) });
  }, 180_000);
});
