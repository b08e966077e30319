import { z } from 'zod';
import { execute, insertRows, runQuery, type Db, type QueryTags } from '../query.js';
import { TABLES } from '../names.js';
import { existingEventIds } from './events.js';

/**
 * Which of these event ids the tenant already has (the ingest writer's identity
 * lookup, on every batch).
 *
 * On the embedded engine, chdb runs every statement that has bound parameters
 * one at a time per process (its `globalParamChain`: libchdb's parameter state
 * is not per connection), so a lookup with `{ids:Array(String)}` waits behind
 * whichever parameterized API read is running, up to READ_MAX_EXECUTION_SECONDS.
 * There the ids travel as insert data instead: into a Memory table of this
 * process, then a SELECT without parameters. Nothing is spliced into SQL text;
 * the values are data parsed by the JSONEachRow reader. One process owns an
 * embedded data directory (the engine's lock), so the table is private to it;
 * uses of it are serialized here. A server (possibly a cluster, shared by
 * several instances) keeps the bound-parameter query.
 */
const SCRATCH = TABLES.writerIdLookup;
let chain: Promise<unknown> = Promise.resolve();
const created = new WeakSet<Db>();

export async function storedEventIds(db: Db, params: { tenantId: string; ids: string[] }, tags: QueryTags = {}): Promise<{ event_id: string }[]> {
  if (!db.embedded) return existingEventIds(db, params, tags);
  const run = chain.then(async () => {
    if (!created.has(db)) {
      await execute(db, 'events.lookup_scratch', `CREATE TABLE IF NOT EXISTS ${db.database}.${SCRATCH} (tenant_id String, event_id String) ENGINE = Memory`);
      created.add(db);
    }
    await execute(db, 'events.lookup_truncate', `TRUNCATE TABLE ${db.database}.${SCRATCH}`);
    await insertRows(
      db,
      'events.lookup_ids',
      SCRATCH,
      params.ids.map((event_id) => ({ tenant_id: params.tenantId, event_id })),
      tags,
    );
    return runQuery(
      db,
      'events.existing_ids_embedded',
      `SELECT DISTINCT event_id FROM ${db.database}.${TABLES.usageEvents} WHERE (tenant_id, event_id) IN (SELECT tenant_id, event_id FROM ${db.database}.${SCRATCH})`,
      {},
      z.object({ event_id: z.string() }),
      tags,
    );
  });
  chain = run.catch(() => undefined);
  return run;
}
