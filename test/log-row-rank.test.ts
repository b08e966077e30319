import { describe, expect, it } from 'vitest';
import { engine } from './harness.js';
import { select } from './upgrade.js';
import { LOG_ROW_RANK } from '../sql/queries/billing-usage.js';

// The close's events as of the cutoff pick each identity's row by LOG_ROW_RANK, one UInt128, instead of the tuple
// (version, -stored ms). It must pick the row the tuple picks, for every version and stored time, ties included.

/** argMax by the tuple and by the rank over the same rows, per group: how many groups pick different rows. */
const picks = (rows: string) => `SELECT count() AS groups, countIf(by_tuple != by_rank) AS differ, sum(tied) AS ties FROM (
  SELECT g, argMax(n, (version, -toUnixTimestamp64Milli(stored_at))) AS by_tuple, argMax(n, ${LOG_ROW_RANK}) AS by_rank,
    count() - uniqExact(version, stored_at) AS tied
  FROM (${rows})
  GROUP BY g)`;

describe('LOG_ROW_RANK', () => {
  it('picks the row the tuple (version, -stored ms) picks: versions and stored times that tie, on both sides of 1970', async () => {
    const { db } = (await engine()).deps;
    // 200k rows in 2,000 groups: versions from a few values (so many tie), stored times in a range of 40 ms either
    // side of 0 and around today, so many rows share both.
    const [row] = await select<{ groups: string; differ: string; ties: string }>(
      db,
      picks(`SELECT number % 2000 AS g, number AS n,
          [toUInt64(0), toUInt64(1), toUInt64(1767225600000000)][1 + (rand(1) % 3)] AS version,
          fromUnixTimestamp64Milli(toInt64(rand(2) % 40) - 20 + if(g % 2 = 0, 0, 1767225600000), 'UTC') AS stored_at
        FROM numbers(200000)`),
    );
    expect(Number(row!.groups)).toBe(2000);
    expect(Number(row!.ties)).toBeGreaterThan(50_000);
    expect(Number(row!.differ)).toBe(0);
  });

  it('picks as the tuple does at the ends of both columns', async () => {
    const { db } = (await engine()).deps;
    // Every pair of edge rows: versions at 0, 1, 2^63 - 1, 2^63 and 2^64 - 1; stored times at the ends of DateTime64(3)'s
    // range, -1, 0 and 1 ms.
    const versions = ['0', '1', '9223372036854775807', '9223372036854775808', '18446744073709551615'];
    const stored = ['-2208988800000', '-1', '0', '1', '10413791999999'];
    const edges = versions.flatMap((v) => stored.map((s) => `(toUInt64(${v}), toInt64(${s}))`)).join(', ');
    const [row] = await select<{ groups: string; differ: string }>(
      db,
      picks(`SELECT g, n, e.1 AS version, fromUnixTimestamp64Milli(e.2, 'UTC') AS stored_at
        FROM (SELECT rowNumberInAllBlocks() AS g, a, b FROM (SELECT arrayJoin([${edges}]) AS a) AS x CROSS JOIN (SELECT arrayJoin([${edges}]) AS b) AS y)
        ARRAY JOIN [a, b] AS e, [1, 2] AS n`),
    );
    expect(Number(row!.groups)).toBe(25 * 25);
    expect(Number(row!.differ)).toBe(0);
  });
});
