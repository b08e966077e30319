import { beforeAll, describe, expect, it } from 'vitest';
import type { ClickHouseClient } from '@clickhouse/client';
import { engine } from './harness.js';
import { waitFor } from './wait.js';
import { KeyStore } from '../access/keys.js';
import type { Db } from '../sql/query.js';

/**
 * The engine's Db, counting the reads that reach the engine. `embedded` picks
 * the lookup: the whole key table without bound parameters (the in-process
 * engine, the default here) or one key by a bound hash (a ClickHouse server).
 */
let embedded = true;
async function countingDb(): Promise<{ db: Db; reads: () => number; holdNextRead: () => () => void }> {
  const r = await engine();
  let reads = 0;
  let held: Promise<void> | undefined;
  const client = new Proxy(r.deps.db.client, {
    get(target, prop, receiver) {
      if (prop === 'query')
        return async (...args: Parameters<ClickHouseClient['query']>) => {
          reads++;
          const gate = held;
          held = undefined;
          const answer = await target.query(...args);
          if (gate) await gate;
          return answer;
        };
      return Reflect.get(target, prop, receiver);
    },
  });
  /** The next read gets its answer from the engine, then waits until the returned function is called. */
  const holdNextRead = () => {
    let release!: () => void;
    held = new Promise((resolve) => (release = resolve));
    return release;
  };
  return { db: { client, database: r.deps.db.database, embedded }, reads: () => reads, holdNextRead };
}

describe.each([
  ['whole-table lookups (embedded engine)', true],
  ['bound-parameter lookups (server)', false],
])('%s', (_, lookup) => {
  beforeAll(() => void (embedded = lookup));

  describe('unknown API keys', () => {
    it('are refused from a bounded cache: a repeated unknown key reaches the engine once', async () => {
      const { db, reads } = await countingDb();
      const keys = new KeyStore(db, { hitSeconds: 5, missSeconds: 60, missEntries: 2 });
      for (let i = 0; i < 20; i++) expect(await keys.authenticate('mh_unknown_key_a')).toBeUndefined();
      expect(reads()).toBe(1);
      await keys.authenticate('mh_unknown_key_b');
      await keys.authenticate('mh_unknown_key_c');
      expect(reads()).toBe(3);
      // At most two misses are kept: the oldest (a) went first, b and c are still known.
      await keys.authenticate('mh_unknown_key_c');
      await keys.authenticate('mh_unknown_key_b');
      expect(reads()).toBe(3);
      await keys.authenticate('mh_unknown_key_a');
      expect(reads()).toBe(4);
    });

    it('a key created after a miss works in the creating process at once', async () => {
      const { db } = await countingDb();
      const keys = new KeyStore(db, { hitSeconds: 5, missSeconds: 60, missEntries: 100 });
      const secret = `mh_chosen_${Date.now()}_secret_value`;
      expect(await keys.authenticate(secret)).toBeUndefined();
      await keys.bootstrap(secret);
      expect(await keys.authenticate(secret)).toMatchObject({ tenantId: 'default', scopes: ['admin'] });
      const created = await keys.create('default', 'new', ['admin']);
      expect(await keys.authenticate(created.secret)).toMatchObject({ keyId: created.record.keyId });
    });
  });

  describe('known API keys', () => {
    it('are refreshed in the background past half their cache life: a steady caller never waits for a lookup, and a revocation still lands within the cache period', async () => {
      const { db, reads } = await countingDb();
      const keys = new KeyStore(db, { hitSeconds: 2, missSeconds: 0, missEntries: 1 });
      const { secret, record } = await keys.create('default', 'steady', ['events:write']);
      expect(await keys.authenticate(secret)).toMatchObject({ keyId: record.keyId });
      const afterFirst = reads();
      await new Promise((r) => setTimeout(r, 1200)); // past half of the 2 s life
      expect(await keys.authenticate(secret)).toMatchObject({ keyId: record.keyId }); // answered from the cache...
      await new Promise((r) => setTimeout(r, 300));
      expect(reads()).toBe(afterFirst + 1); // ...while one lookup refreshed it
      await new Promise((r) => setTimeout(r, 1000)); // past the first entry's expiry: the refreshed one still holds
      expect(await keys.authenticate(secret)).toMatchObject({ keyId: record.keyId });
      // Revoked by another process (its own store): this one stops accepting the key within the cache period.
      await new KeyStore(db, { hitSeconds: 2, missSeconds: 0, missEntries: 1 }).revoke(record);
      await new Promise((r) => setTimeout(r, 2100));
      expect(await keys.authenticate(secret)).toBeUndefined();
    });

    it('a revocation made here is not undone by a background refresh that read the key before it', async () => {
      const { db, reads, holdNextRead } = await countingDb();
      const keys = new KeyStore(db, { hitSeconds: 2, missSeconds: 0, missEntries: 1 });
      const { secret, record } = await keys.create('default', 'refreshed', ['events:write']);
      expect(await keys.authenticate(secret)).toMatchObject({ keyId: record.keyId });
      await new Promise((r) => setTimeout(r, 1200)); // past half of the 2 s life
      const before = reads();
      const release = holdNextRead();
      // Answered from the cache; the background refresh reads the key (not yet revoked) and waits.
      expect(await keys.authenticate(secret)).toMatchObject({ keyId: record.keyId });
      await waitFor('the refresh to have read the key', () => reads() === before + 1, 10_000);
      await keys.revoke(record);
      release();
      await new Promise((r) => setTimeout(r, 300)); // the refresh to finish (were it stored, the key would be accepted below)
      expect(await keys.authenticate(secret)).toBeUndefined();
    });
  });
});
