import { describe, expect, it } from 'vitest';
import { now } from './clock.js';
import { engine } from './harness.js';
import { databaseBefore, runMigrationAgain, select } from './upgrade.js';
import { migrate } from '../sql/migrations.js';
import { TABLES } from '../sql/names.js';
import { execute } from '../sql/query.js';
import { ROLLUP_TIERS, convertedLatest, latestKey, windowStart } from '../sql/datasets/rollups.js';

// Migration 26: the rollups' newest-event state keyed by one string (latestKey) instead of the tuple
// (timestamp, event_id). The key must order events as the tuple does, the conversion of stored states
// must keep each one's event, and an upgraded rollup must answer LATEST as before and as raw events do.

const HOUR = 3_600_000;

/** Event ids that test the key's byte order: prefixes, multi-byte characters, lengths around the varint's 127/128 and 16,383/16,384 bytes. */
const EDGE_IDS = ['a', 'ab', 'b', 'a\u0000', 'é', 'z'.repeat(127), 'z'.repeat(128), '\u{1F600}'.repeat(256), 'y'.repeat(16_383), 'y'.repeat(16_384)];

describe('latestKey', () => {
  it('orders (time, id) pairs as the tuple does, times before 1970, at one millisecond and across ids of every length', async () => {
    const { db } = (await engine()).deps;
    // 200k pairs in 2,000 groups: times in a range of 40 ms (so many pairs share one), either side of 0,
    // ids of 0-300 bytes drawn from a few characters (so many share a prefix).
    const [row] = await select<{ groups: string; differ: string; ties: string }>(
      db,
      `SELECT count() AS groups, countIf(by_tuple != by_key) AS differ, sum(tied) AS ties FROM (
         SELECT g, argMax(q, (ts, id)) AS by_tuple, argMax(q, ${latestKey('toUnixTimestamp64Milli(ts)', 'id')}) AS by_key,
           count() - uniqExact(ts) AS tied
         FROM (SELECT number % 2000 AS g, toDecimal128(number, 9) AS q,
                 fromUnixTimestamp64Milli(toInt64(rand(1) % 40) - 20 + if(g % 2 = 0, 0, 1767225600000), 'UTC') AS ts,
                 arrayStringConcat(arrayMap(i -> ['a', 'b', '\\0', 'é'][1 + (rand(2 + i) % 4)], range(rand(3) % 300))) AS id
               FROM numbers(200000))
         GROUP BY g)`,
    );
    expect(Number(row!.groups)).toBe(2000);
    expect(Number(row!.ties)).toBeGreaterThan(100_000);
    expect(Number(row!.differ)).toBe(0);
  });

  it('orders the edge ids at one millisecond as the tuple does', async () => {
    const { db } = (await engine()).deps;
    const ids = EDGE_IDS.map((id) => `'${id.replace(/\\/g, '\\\\').replaceAll('\u0000', '\\0')}'`).join(', ');
    // Every pair of edge ids, at one millisecond and a millisecond apart.
    const [row] = await select<{ pairs: string; differ: string }>(
      db,
      `SELECT count() AS pairs, countIf(by_tuple != by_key) AS differ FROM (
         SELECT argMax(q, (ts, id)) AS by_tuple, argMax(q, ${latestKey('toUnixTimestamp64Milli(ts)', 'id')}) AS by_key
         FROM (SELECT pair, arrayJoin([(1, a, t1), (2, b, t2)]) AS e, toDecimal128(e.1, 9) AS q, e.2 AS id, fromUnixTimestamp64Milli(e.3, 'UTC') AS ts
               FROM (SELECT rowNumberInAllBlocks() AS pair, a, b, t1, t2
                     FROM (SELECT arrayJoin([${ids}]) AS a) AS x CROSS JOIN (SELECT arrayJoin([${ids}]) AS b) AS y
                     CROSS JOIN (SELECT arrayJoin([(toInt64(5), toInt64(5)), (toInt64(5), toInt64(4)), (toInt64(-3), toInt64(-3))]) AS tt, tt.1 AS t1, tt.2 AS t2) AS z
                     WHERE a != b OR t1 != t2))
         GROUP BY pair)`,
    );
    expect(Number(row!.pairs)).toBe(EDGE_IDS.length * EDGE_IDS.length * 3 - EDGE_IDS.length * 2);
    expect(Number(row!.differ)).toBe(0);
  });
});

describe('convertedLatest', () => {
  it('turns an argMax state by (time, id) into the state by latestKey of the same event, byte for byte', async () => {
    const { db } = (await engine()).deps;
    const ids = [...EDGE_IDS, 'evt-0001', ''];
    const values = ids.flatMap((id, i) => [-1_000 - i, 1_767_225_600_123 + i].map((ms) => `(${i}, '${id.replaceAll('\u0000', '\\0')}', ${ms})`)).join(', ');
    const rows = await select<{ id_bytes: string; converted: string; direct: string; value: string }>(
      db,
      `SELECT length(id) AS id_bytes, hex(CAST(${convertedLatest('old')}, 'String')) AS converted, hex(CAST(direct, 'String')) AS direct,
         toString(argMaxMerge(${convertedLatest('old')})) AS value
       FROM (SELECT i, id, argMaxState(q, (ts, id)) AS old, argMaxState(q, ${latestKey('toUnixTimestamp64Milli(ts)', 'id')}) AS direct
             FROM (SELECT c1 AS i, c2 AS id, toDecimal128(c1 * 1.5, 9) AS q, fromUnixTimestamp64Milli(toInt64(c3), 'UTC') AS ts FROM VALUES('c1 UInt32, c2 String, c3 Int64', ${values}))
             GROUP BY i, id, ts)
       GROUP BY id_bytes, converted, direct`,
    );
    expect(rows).toHaveLength(ids.length * 2);
    expect(rows.map((r) => Number(r.id_bytes)).sort((a, b) => a - b)).toEqual(expect.arrayContaining([0, 1, 127, 128, 1024, 16_383, 16_384]));
    for (const r of rows) expect(r.converted).toBe(r.direct);
  });

  it('refuses a state that is not in the layout it reads, instead of writing a wrong key', async () => {
    const { db } = (await engine()).deps;
    // An argMax state by a single time (a different layout: no id after the time).
    await expect(
      select(db, `SELECT hex(CAST(${convertedLatest('old')}, 'String')) FROM (SELECT argMaxState(toDecimal128(1, 9), toDateTime64(1, 3, 'UTC')) AS old)`),
    ).rejects.toThrow(/not in the layout migration 26 converts/);
  });
});

describe('migration 26 (rollup_latest_key)', () => {
  it("keeps every window's LATEST through the upgrade, and later events compare with the converted states as with raw events", async () => {
    const db = await databaseBefore(26);
    const start = Math.floor(now() / HOUR) * HOUR - 5 * HOUR;
    const insert = (valuesSql: string) =>
      execute(
        db,
        'test.insert',
        `INSERT INTO ${db.database}.${TABLES.usageEvents} (tenant_id, event_id, customer_id, metric_name, timestamp, quantity, dimensions, ingested_at) ${valuesSql}`,
      );
    // 20,000 events over 5 hours, 7 customers, in three inserts (several parts per tier), many at one millisecond.
    for (const part of [0, 1, 2])
      await insert(`SELECT 't1', concat('e', toString(number), '-', toString(${part})), concat('c', toString(number % 7)), 'm',
        fromUnixTimestamp64Milli(toInt64(${start} + (number * 7919) % (5 * ${HOUR}) - (number * 7919) % 97), 'UTC'),
        toDecimal128(toString(number % 1000) || '.5', 9), map('r', toString(number % 3)), now64(3) FROM numbers(${part * 7000}, 7000)`);
    const latestPerWindow = (column: string, table: string) =>
      select<{ k: string; v: string }>(
        db,
        `SELECT concat(customer_id, toString(dimensions), toString(window_start)) AS k, toString(argMaxMerge(${column})) AS v
         FROM ${db.database}.${table} GROUP BY customer_id, dimensions, window_start ORDER BY k`,
      );
    const before: Record<string, { k: string; v: string }[]> = {};
    for (const tier of ROLLUP_TIERS) before[tier.name] = await latestPerWindow('latest', tier.table);
    expect(before.minute!.length).toBeGreaterThan(1000);

    expect(await migrate(db)).toContain(26);
    await runMigrationAgain(db, 26);
    for (const tier of ROLLUP_TIERS) {
      const cols = await select<{ name: string }>(
        db,
        `SELECT name FROM system.columns WHERE database = '${db.database}' AND table = '${tier.table}' AND name LIKE 'latest%'`,
      );
      expect(
        cols.map((c) => c.name),
        tier.name,
      ).toEqual(['latest_key']);
      expect(await latestPerWindow('latest_key', tier.table), tier.name).toEqual(before[tier.name]);
    }

    // Into windows that hold converted states: an event one millisecond before each window's newest (not
    // the latest), and one at the newest's millisecond with a greater id (the latest).
    const newest = await select<{ customer_id: string; dimensions: Record<string, string>; ts: string; id: string }>(
      db,
      `SELECT customer_id, dimensions, toString(toUnixTimestamp64Milli(max_by.1)) AS ts, max_by.2 AS id
       FROM (SELECT customer_id, dimensions, toStartOfHour(timestamp) AS h, max((timestamp, event_id)) AS max_by
             FROM ${db.database}.${TABLES.usageEvents} FINAL GROUP BY customer_id, dimensions, h) LIMIT 40`,
    );
    expect(newest).toHaveLength(40);
    const late = newest.flatMap((n, i) => [
      `('t1', 'late-${i}', '${n.customer_id}', 'm', fromUnixTimestamp64Milli(toInt64(${n.ts}) - 1, 'UTC'), 7777, map('r', '${n.dimensions.r}'), now64(3))`,
      `('t1', '${n.id}~${i}', '${n.customer_id}', 'm', fromUnixTimestamp64Milli(toInt64(${n.ts}), 'UTC'), ${i + 0.25}, map('r', '${n.dimensions.r}'), now64(3))`,
    ]);
    await insert(`VALUES ${late.join(', ')}`);
    for (const tier of ROLLUP_TIERS) {
      const [row] = await select<{ windows: string; differ: string }>(
        db,
        `SELECT count() AS windows, countIf(raw.v != rollup.v) AS differ
         FROM (SELECT customer_id, dimensions, ${windowStart(tier, 'timestamp')} AS w, toString(argMax(quantity, (timestamp, event_id))) AS v
               FROM ${db.database}.${TABLES.usageEvents} FINAL GROUP BY customer_id, dimensions, w) AS raw
         INNER JOIN (SELECT customer_id, dimensions, window_start AS w, toString(argMaxMerge(latest_key)) AS v
               FROM ${db.database}.${tier.table} GROUP BY customer_id, dimensions, w) AS rollup
         USING (customer_id, dimensions, w)`,
      );
      expect(Number(row!.windows), tier.name).toBeGreaterThanOrEqual(tier.name === 'minute' ? 1000 : 21);
      expect(Number(row!.differ), tier.name).toBe(0);
    }
    // The late events with a greater id at the newest millisecond are the latest of their hour.
    const [hourly] = await select<{ windows: string }>(
      db,
      `SELECT count() AS windows FROM (SELECT argMaxMerge(latest_key) AS v FROM ${db.database}.${TABLES.usagePerHour}
       GROUP BY customer_id, dimensions, window_start) WHERE v - floor(v) = 0.25`,
    );
    expect(Number(hourly!.windows)).toBe(newest.length);
  });
});
