import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { afterAll } from 'vitest';
import { loadConfig, type Config } from '../api/config.js';
import { createLogger } from '../api/logger.js';
import { startRuntime, type Runtime } from '../api/runtime.js';
import { createApp } from '../api/app.js';
import { writeTenant } from '../sql/queries/tenancy.js';
import type { EventRow } from '../ingest/normalise.js';
import { TABLES } from '../sql/names.js';
import type { Db } from '../sql/query.js';
import { now, testClock } from './clock.js';

/**
 * One real embedded engine per test-file process (vitest runs each file in its
 * own fork), on its own temporary data directory. Tests isolate themselves by
 * tenant: `newTenant()` gives each test a tenant nobody else writes to.
 */
let runtime: Promise<Runtime> | undefined;

/** The operator credential of every test engine (/v1/operator/...). */
export const OPERATOR_KEY = 'mho_test-operator-credential-0123456789';
let dataDir: string | undefined;

/** A test engine's configuration on `dataDir`: silent, no fsync, 2 GiB of engine memory, then `overrides`. */
export function testConfig(dataDir: string, overrides: Record<string, string> = {}): Config {
  return loadConfig({ DATA_DIR: dataDir, LOG_LEVEL: 'silent', ENGINE_MAX_MEMORY_BYTES: String(2 * 1024 ** 3), ENGINE_FSYNC: 'false', ...overrides });
}

export async function engine(overrides: Record<string, string> = {}): Promise<Runtime> {
  runtime ??= (async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'meterhouse-test-'));
    const config = testConfig(dataDir, {
      METERHOUSE_OPERATOR_KEY: OPERATOR_KEY,
      // Tests run the reconciliation right after writing; test/reconcile-job.test.ts keeps a settle time.
      ROLLUP_RECONCILE_SETTLE_SECONDS: '0',
      ...overrides,
    });
    return startRuntime(config, createLogger(config.LOG_LEVEL), { clock: testClock });
  })();
  return runtime;
}

/** Close this file's engine and remove its data (also done after all tests; call it first when the engine must stop before something else). */
export async function closeEngine(): Promise<void> {
  if (!runtime) return;
  const r = await runtime;
  runtime = undefined;
  await r.close();
  if (dataDir) await rm(dataDir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
}

afterAll(closeEngine);

/**
 * Runs `body` while usage_events refuses every row that `refused` (a condition over its columns) matches, by a
 * table constraint: a row only the engine itself refuses, at insert, past every validation. Test-only DDL:
 * `refused` is spelt from the test's own ids, never from input.
 */
export async function whileEngineRefuses<T>(db: Db, refused: string, body: () => Promise<T>): Promise<T> {
  const constraint = `c_test_${randomUUID().replace(/-/g, '')}`;
  await db.client.command({ query: `ALTER TABLE ${db.database}.${TABLES.usageEvents} ADD CONSTRAINT ${constraint} CHECK NOT (${refused})` });
  try {
    return await body();
  } finally {
    await db.client.command({ query: `ALTER TABLE ${db.database}.${TABLES.usageEvents} DROP CONSTRAINT ${constraint}` });
  }
}

export interface TestTenant {
  tenantId: string;
  adminKey: string;
  /** An app over the shared engine, optionally with other settings (limits) for this test. */
  request(method: string, path: string, init?: { body?: unknown; raw?: string; headers?: Record<string, string>; key?: string | null }): Promise<Response>;
  json<T = any>(
    method: string,
    path: string,
    init?: { body?: unknown; raw?: string; headers?: Record<string, string>; key?: string | null },
  ): Promise<{ status: number; body: T; headers: Headers }>;
}

export async function newTenant(configOverrides: Partial<Config> = {}): Promise<TestTenant> {
  const r = await engine();
  const tenantId = `t_${randomUUID().slice(0, 8)}`;
  await writeTenant(r.deps.db, tenantId, `test ${tenantId}`);
  const { secret } = await r.deps.access.keys.create(tenantId, 'test admin', ['admin']);
  const app = Object.keys(configOverrides).length === 0 ? r.app : createApp({ ...r.deps, config: { ...r.deps.config, ...configOverrides } });
  const request: TestTenant['request'] = (method, path, init = {}) => {
    const headers: Record<string, string> = { ...init.headers };
    const key = init.key === undefined ? secret : init.key;
    if (key !== null) headers.authorization = `Bearer ${key}`;
    let body: string | undefined = init.raw;
    if (init.body !== undefined) {
      body = JSON.stringify(init.body);
      headers['content-type'] ??= 'application/json';
    }
    // As an HTTP client does for a body it holds whole (the ingest budget charges a body without one its maximum size).
    if (body !== undefined) headers['content-length'] ??= String(Buffer.byteLength(body));
    return Promise.resolve(app.request(path, { method, headers, body }));
  };
  return {
    tenantId,
    adminKey: secret,
    request,
    async json(method, path, init) {
      const res = await request(method, path, init);
      return { status: res.status, body: (await res.json()) as any, headers: res.headers };
    },
  };
}

/** Everything since the epoch up to a day from now: a window that holds every test event. */
export const ALL_TIME = `from=0&to=${now() + 86_400_000}`;

/** A usage_events row as the writer inserts it: customer `c`, metric `m`, quantity 1, received when it happened, unless `fields` say otherwise. */
export const eventRow = (tenantId: string, eventId: string, timestamp: number, fields: Partial<EventRow> = {}): EventRow => ({
  tenant_id: tenantId,
  event_id: eventId,
  customer_id: 'c',
  product_id: '',
  metric_name: 'm',
  timestamp,
  quantity: '1',
  dimensions: {},
  source: '',
  source_version: '',
  request_id: '',
  ingested_at: timestamp,
  ...fields,
});
