import { createHash } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { now } from './clock.js';
import { engine } from './harness.js';
import { toUnits, type OracleEvent } from './oracle.js';
import { redeliver } from './redeliver.js';
import { databaseBefore, runMigrationAgain, select } from './upgrade.js';
import { migrate } from '../sql/migrations.js';
import { TABLES } from '../sql/names.js';
import { execute, type Db } from '../sql/query.js';
import { RAW_COLUMN_CODECS } from '../sql/datasets/usage-events.js';

const RAW_TABLES = [TABLES.usageEvents, TABLES.usageEventLog] as const;
/** The raw tables as an SQL list, for `table IN (...)` over the system tables. */
const RAW_TABLE_LIST = `'${RAW_TABLES.join("', '")}'`;
const DAY = 86_400_000;

interface ColumnRow {
  table: string;
  name: string;
  compression_codec: string;
  default_expression: string;
}

const columns = (db: Db) =>
  select<ColumnRow>(
    db,
    `SELECT table, name, compression_codec, default_expression
     FROM system.columns WHERE database = '${db.database}' AND table IN (${RAW_TABLE_LIST})`,
  );

/** Compressed bytes of each raw table's active parts (parts this small are compact: the engine keeps no size per column). */
async function partBytes(db: Db): Promise<Record<string, number>> {
  const rows = await select<{ table: string; bytes: string }>(
    db,
    `SELECT table, toString(sum(data_compressed_bytes)) AS bytes FROM system.parts
     WHERE database = '${db.database}' AND table IN (${RAW_TABLE_LIST}) AND active GROUP BY table`,
  );
  return Object.fromEntries(rows.map((r) => [r.table, Number(r.bytes)]));
}

/** Which codec each raw column must have after migration 24: the map's, and the default (none) for the others. */
function expectCodecs(rows: ColumnRow[]) {
  for (const table of RAW_TABLES) {
    const mine = rows.filter((r) => r.table === table);
    expect(mine.find((r) => r.name === 'event_id')!.compression_codec, `${table}.event_id`).toBe('');
    for (const [name, definition] of Object.entries(RAW_COLUMN_CODECS)) {
      const codec = /CODEC\(.*\)$/.exec(definition)![0];
      expect(mine.find((r) => r.name === name)?.compression_codec, `${table}.${name}`).toBe(codec);
    }
    // The ALTER re-states defaults, it does not change them.
    expect(mine.find((r) => r.name === 'stored_at')!.default_expression).toBe('now64(3)');
    expect(mine.find((r) => r.name === 'product_id')!.default_expression).toBe("''");
  }
}

describe('migration 24: raw events compressed with ZSTD', () => {
  const dbs: Db[] = [];
  afterAll(async () => {
    for (const db of dbs) await execute(db, 'test.drop', `DROP DATABASE IF EXISTS ${db.database}`);
  });

  it('a new installation has the codecs on usage_events and usage_event_log, event_id keeps the default', async () => {
    const { db } = (await engine()).deps;
    expectCodecs(await columns(db));
  });

  it('an upgrade changes only metadata; a merge recompresses old parts smaller; every event reads back exactly as stored', async () => {
    const VERSION = 24;
    const db = await databaseBefore(VERSION);
    dbs.push(db);
    const today = new Date(now());
    const month = Date.UTC(today.getUTCFullYear(), today.getUTCMonth() - 1);
    const stored = new Map<string, OracleEvent>();
    let n = 0;
    // Ids in random order (hex of a hash), as UUIDs are; quantities with up to 9 fraction digits; one month.
    const batch = (count: number): OracleEvent[] =>
      Array.from({ length: count }, () => {
        const i = n++;
        const e: OracleEvent = {
          eventId: `e-${createHash('sha256').update(String(i)).digest('hex').slice(0, 24)}`,
          customerId: `cust-${(i * 7_919) % 211}`,
          metricName: i % 3 === 0 ? 'm.calls' : 'm.seconds',
          timestamp: month + ((i * 104_729) % (27 * DAY)),
          quantity: i % 3 === 0 ? '1' : `${(i * 37) % 1_000}.${String((i * 7_654_321) % 1_000_000_000).padStart(9, '0')}`,
          dimensions: { region: ['eu', 'us', 'ap'][i % 3]!, ...(i % 5 === 0 ? { tier: `t${i % 7}` } : {}) },
        };
        stored.set(e.eventId, e);
        return e;
      });
    const merge = async () => {
      for (const table of RAW_TABLES) await execute(db, 'test.merge', `OPTIMIZE TABLE ${db.database}.${table} FINAL`);
    };

    for (let k = 0; k < 4; k++) await redeliver(db, 'up', batch(2_500));
    await merge();
    expect((await columns(db)).filter((r) => r.compression_codec !== '')).toEqual([]);
    const bytesBefore = await partBytes(db);
    const mutations = () =>
      select<{ table: string; mutation_id: string }>(
        db,
        `SELECT table, mutation_id FROM system.mutations WHERE database = '${db.database}' AND table IN (${RAW_TABLE_LIST}) ORDER BY table, mutation_id`,
      );
    const mutationsBefore = await mutations();

    expect(await migrate(db, { upTo: VERSION })).toEqual([VERSION]); // later migrations are not this test's subject
    await runMigrationAgain(db, VERSION);
    const altered = await columns(db);
    expectCodecs(altered);
    // Metadata only: no mutation, the parts written before keep their bytes until a merge.
    expect(await mutations()).toEqual(mutationsBefore);
    expect(await partBytes(db)).toEqual(bytesBefore);

    // The merge writes the same rows with the new codecs: smaller in both tables (~0.8x here: these ids, 24 hex digits, keep LZ4 and most of the bytes).
    await merge();
    const bytesAfter = await partBytes(db);
    for (const table of RAW_TABLES) expect(bytesAfter[table]!, table).toBeLessThan(bytesBefore[table]! * 0.9);

    // New rows after the migration, a redelivery of old ones, then everything merged again.
    await redeliver(db, 'up', batch(2_000));
    await redeliver(db, 'up', [...stored.values()].slice(0, 500));
    await merge();

    const rows = await select<{ event_id: string; customer_id: string; metric_name: string; ts: string; quantity: string; dimensions: Record<string, string> }>(
      db,
      `SELECT event_id, customer_id, metric_name, toString(toUnixTimestamp64Milli(timestamp)) AS ts, toString(quantity) AS quantity, dimensions
       FROM ${db.database}.${TABLES.usageEvents} FINAL WHERE tenant_id = 'up'`,
    );
    expect(rows.length).toBe(stored.size);
    for (const r of rows) {
      const e = stored.get(r.event_id)!;
      expect(e, r.event_id).toBeDefined();
      expect([r.customer_id, r.metric_name, Number(r.ts), toUnits(r.quantity), r.dimensions]).toEqual([
        e.customerId,
        e.metricName,
        e.timestamp,
        toUnits(e.quantity),
        e.dimensions,
      ]);
    }
    const logged = await select<{ n: string }>(
      db,
      `SELECT toString(uniqExact(event_id)) AS n FROM ${db.database}.${TABLES.usageEventLog} WHERE tenant_id = 'up'`,
    );
    expect(Number(logged[0]!.n)).toBe(stored.size);
  });
});
