import { z } from 'zod';
import type { Db, LookupConnection, QueryTags } from '../query.js';
import { toStorageError } from '../storage-error.js';
import { TABLES } from '../names.js';
import { indexedEventIds } from './events.js';

/** One stored event's identity. */
export interface Identity {
  tenant_id: string;
  event_id: string;
}

/**
 * Which of these identities are already stored (the ingest writer's lookup, on
 * every batch): one query for the whole batch, every tenant in it. It reads
 * usage_event_ids, every stored identity in small granules, not usage_events
 * (sql/datasets/event-ids.ts).
 *
 * On the embedded engine the identities travel as insert data (chdb's
 * parallel input parser, not a 10,000-element parameter through the SQL
 * parser; and no parameter at all, from before meterhouse's connections bound
 * values per connection: chdb's own binding ran one parameterized statement at
 * a time per process, so a lookup waited behind any API read):
 * into a Memory table of this process, then a SELECT without
 * parameters, all on the lookup's own connection (`Db.lookup`), so a lookup
 * neither waits for nor delays the event insert running beside it. Nothing is
 * spliced into SQL text; the values are data parsed by the JSONEachRow reader.
 * One process owns an embedded data directory (the engine's lock), so the table
 * is private to it; uses of it are serialized here. A server (possibly a
 * cluster, shared by several instances) keeps the bound-parameter query, per
 * tenant, `chunk` ids at a time (the size of one query's parameters).
 */
export async function storedIdentities(db: Db, identities: readonly Identity[], tags: QueryTags = {}, chunk = 5000): Promise<Identity[]> {
  if (identities.length === 0) return [];
  if (db.lookup) return lookupEmbedded(db.lookup, db.database, identities);
  const byTenant = new Map<string, string[]>();
  for (const { tenant_id, event_id } of identities) {
    let ids = byTenant.get(tenant_id);
    if (!ids) byTenant.set(tenant_id, (ids = []));
    ids.push(event_id);
  }
  const stored: Identity[] = [];
  for (const [tenantId, ids] of byTenant) {
    for (let i = 0; i < ids.length; i += chunk) {
      for (const { event_id } of await indexedEventIds(db, { tenantId, ids: ids.slice(i, i + chunk) }, { ...tags, tenantId })) {
        stored.push({ tenant_id: tenantId, event_id });
      }
    }
  }
  return stored;
}

const SCRATCH = TABLES.writerIdLookup;
const identityRow = z.object({ tenant_id: z.string(), event_id: z.string() });
let chain: Promise<unknown> = Promise.resolve();
const created = new WeakSet<LookupConnection>();

function lookupEmbedded(conn: LookupConnection, database: string, identities: readonly Identity[]): Promise<Identity[]> {
  const run = chain.then(async () => {
    let step = 'events.lookup_scratch';
    try {
      if (!created.has(conn)) {
        await conn.command(`CREATE TABLE IF NOT EXISTS ${database}.${SCRATCH} (tenant_id String, event_id String) ENGINE = Memory`);
        created.add(conn);
      }
      step = 'events.lookup_truncate';
      await conn.command(`TRUNCATE TABLE ${database}.${SCRATCH}`);
      step = 'events.lookup_ids';
      await conn.insert(`${database}.${SCRATCH}`, Buffer.from(JSON.stringify(identities.map(({ tenant_id, event_id }) => ({ tenant_id, event_id })))));
      step = 'events.indexed_ids_embedded';
      const text = await conn.select(
        `SELECT DISTINCT tenant_id, event_id FROM ${database}.${TABLES.usageEventIds} WHERE (tenant_id, event_id) IN (SELECT tenant_id, event_id FROM ${database}.${SCRATCH})`,
      );
      return text
        .split('\n')
        .filter((line) => line.length > 0)
        .map((line) => identityRow.parse(JSON.parse(line)));
    } catch (error) {
      throw toStorageError(step, error);
    }
  });
  chain = run.catch(() => undefined);
  return run;
}
