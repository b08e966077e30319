import { randomUUID } from 'node:crypto';
import { expect } from 'vitest';
import { execute, type Db } from '../sql/query.js';
import { MIGRATIONS, migrate } from '../sql/migrations.js';
import { engine } from './harness.js';

/**
 * A database of its own on this file's engine with every migration before `version` applied, and
 * only those: where an upgrade to `version` starts (a test then stores data the old schema's way).
 */
export async function databaseBefore(version: number): Promise<Db> {
  const { client } = (await engine()).deps.db;
  const db: Db = { client, database: `upgrade_${randomUUID().slice(0, 8)}` };
  expect(await migrate(db, { upTo: version - 1 })).toEqual(MIGRATIONS.filter((m) => m.version < version).map((m) => m.version));
  return db;
}

/** Run migration `version`'s statements on `db` again, as a migration interrupted and re-run would: each must be idempotent. */
export async function runMigrationAgain(db: Db, version: number): Promise<void> {
  for (const statement of MIGRATIONS.find((m) => m.version === version)!.statements({ database: db.database })) {
    await execute(db, 'test.migration_again', statement);
  }
}

/** Rows of `query` on `db` as JSON objects (the migration tests read system tables and stored rows with it). */
export async function select<T>(db: Db, query: string, params: Record<string, unknown> = {}): Promise<T[]> {
  return (await db.client.query({ query, query_params: params, format: 'JSONEachRow' })).json<T>();
}
