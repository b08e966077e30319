import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { createClient, type ClickHouseClient } from '@clickhouse/client';
import type { CsvColumns, Db } from './query.js';
import { renderEngineConfig, type EngineLimits } from './engine-config.js';
import type { S3Storage } from './tiering.js';
import { probeBucket } from './s3/client.js';
import { checkStorageRecord } from './storage-marker.js';
import { analystDatabase } from './datasets/analyst.js';
import { sessionParameterConnection } from './session-parameters.js';
import { chainedConnection, StatementChain } from './statement-chain.js';

/**
 * How 64-bit integers, decimals and times cross into JS, decided once:
 * quoted strings for UInt64/Int64 and Decimal (never lossy numbers), and
 * RFC 3339 UTC strings for DateTime64.
 */
export const OUTPUT_SETTINGS = {
  output_format_json_quote_64bit_integers: 1,
  output_format_json_quote_decimals: 1,
  date_time_output_format: 'iso',
} as const;

export type ConnectOptions = (
  | { mode: 'embedded'; database: string; dataDir: string; limits: EngineLimits }
  | { mode: 'server'; database: string; url: string; username: string; password: string; requestTimeoutMs: number }
) & {
  /** S3 for the cold tier of usage_events; absent: no tiering. */
  s3?: S3Storage | undefined;
  /** Clients kept apart from `db` for bounded reads (default 1). */
  readers?: number | undefined;
  /** Connections used only for analyst SQL (default 1); in server mode, optionally as a readonly user of their own. */
  analysts?: { count: number; username?: string | undefined; password?: string | undefined } | undefined;
};

export interface Connection {
  mode: 'embedded' | 'server';
  /** Ingest, jobs and writes. */
  db: Db;
  /**
   * Clients for API reads. The embedded engine runs one statement at a time
   * per connection, so reads get their own connections and never queue in
   * front of an ingest insert.
   */
  readClients: ClickHouseClient[];
  /**
   * Clients for analyst SQL only (analyst/): its current database is the
   * empty analyst database, and per-query limits never meet another use.
   */
  analystClients: ClickHouseClient[];
  /**
   * A Db for one background job (reconciliation, the period close, alert
   * sweeps, webhook delivery). The embedded engine runs one statement at a
   * time per connection: on `db`, a job's long statement (a close run's
   * meter values, the reconciler's first pass after a backfill) held every
   * API request's own statements (a meter's definition, a key) behind it, for
   * as long as the job ran. Embedded: a connection of its own, closed with the
   * rest. Server: the shared client (every HTTP request is its own session).
   */
  jobDb(): Db;
  close(): Promise<void>;
}

type ClientOptions = NonNullable<Parameters<typeof createClient>[0]>;

export class EngineOpenError extends Error {
  override readonly name = 'EngineOpenError';
}

/**
 * One short request before the engine opens: an unreachable endpoint, wrong
 * credentials or a missing bucket fail the start at once with a clear reason,
 * instead of inserts and shutdown hanging in the engine's S3 retries.
 */
async function probeS3(s3: S3Storage): Promise<void> {
  try {
    await probeBucket(s3, s3.connectTimeoutMs);
  } catch (error) {
    throw new EngineOpenError(`Cannot use S3 for tiered storage: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
}

export async function connect(options: ConnectOptions): Promise<Connection> {
  if (options.s3) await probeS3(options.s3);
  if (options.mode === 'server') {
    const client = createClient({
      url: options.url,
      username: options.username,
      password: options.password,
      request_timeout: options.requestTimeoutMs,
      clickhouse_settings: OUTPUT_SETTINGS,
    });
    const ping = await client.ping();
    if (!ping.success) {
      await client.close();
      throw new EngineOpenError(`ClickHouse server at ${withoutCredentials(options.url)} is not reachable: ${ping.error.message}`);
    }
    // Over HTTP every request is its own engine session: one client serves the reads too.
    const readClients = Array.from({ length: options.readers ?? 1 }, () => client);
    const analyst = createClient({
      url: options.url,
      username: options.analysts?.username ?? options.username,
      password: options.analysts?.username ? (options.analysts.password ?? '') : options.password,
      database: analystDatabase(options.database),
      request_timeout: options.requestTimeoutMs,
      clickhouse_settings: OUTPUT_SETTINGS,
    });
    const analystClients = Array.from({ length: options.analysts?.count ?? 1 }, () => analyst);
    return {
      mode: 'server',
      db: { client, database: options.database },
      readClients,
      analystClients,
      jobDb: () => ({ client, database: options.database }),
      close: async () => {
        await analyst.close();
        await client.close();
      },
    };
  }
  return openEmbedded(options);
}

function withoutCredentials(url: string): string {
  const u = new URL(url);
  u.username = '';
  u.password = '';
  return u.toString();
}

/** Whose PID holds the engine's lock on a data directory, if a live process does. */
async function lockHolder(dataDir: string): Promise<number | undefined> {
  const status = await readFile(join(dataDir, 'status'), 'utf8').catch(() => '');
  const pid = Number(/PID:\s*(\d+)/.exec(status)?.[1]);
  if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid) return undefined;
  try {
    process.kill(pid, 0);
    return pid;
  } catch {
    return undefined;
  }
}

/** chdb's raw insert parameters for Db.rawInsert: JSONEachRow, or CSV of the given columns. */
const rawInsertParams = (table: string, values: Buffer, settings: Record<string, string | number>, csv?: CsvColumns) =>
  csv ? ({ table, values, format: 'CSV', columns: csv.columns, settings } as const) : ({ table, values, format: 'JSONEachRow', settings } as const);

async function openEmbedded(options: Extract<ConnectOptions, { mode: 'embedded' }>): Promise<Connection> {
  const dataDir = resolve(options.dataDir);
  const configDir = join(dataDir, '.meterhouse');
  await mkdir(configDir, { recursive: true });
  const refusal = await checkStorageRecord(configDir, dataDir, options.s3);
  if (refusal) throw new EngineOpenError(refusal);
  const configFile = join(configDir, 'engine.xml');
  // It may hold the S3 secret key: owner-only.
  await writeFile(configFile, renderEngineConfig(options.limits, options.s3), { mode: 0o600 });
  await chmod(configFile, 0o600);
  // ClickHouse retries an S3 request 500 times by default: an endpoint that goes away would hang inserts and exit.
  const args = [`--config-file=${configFile}`, ...(options.s3 ? [`--s3_retry_attempts=${Math.trunc(options.s3.retryAttempts)}`] : [])];

  // Loaded only in embedded mode: server mode never touches the native engine.
  const { Session } = await import('chdb');
  const { createChdbConnection } = await import('chdb/connection');

  let session: InstanceType<typeof Session>;
  try {
    // The first opener of a path decides the engine's server config.
    session = new Session(dataDir, { connectionArgs: args });
  } catch (error) {
    const holder = await lockHolder(dataDir);
    const reason = holder
      ? `it is in use by another process (PID ${holder}); the embedded engine allows one process per DATA_DIR`
      : 'the embedded engine could not open it (is it writable, and not used by another process?)';
    throw new EngineOpenError(`Cannot open DATA_DIR ${dataDir}: ${reason}`, { cause: error });
  }
  // chdb's Connection implements @clickhouse/client-common's interface; the two
  // packages' type declarations differ slightly, so this is the one cast.
  const clientOver = (connection: ReturnType<typeof createChdbConnection>): ClickHouseClient =>
    createClient({ connection: connection as unknown as ClientOptions['connection'], clickhouse_settings: OUTPUT_SETTINGS });
  // meterhouse's own statements (SQL assembled from allow-listed pieces) set their bound values on their own
  // connection, so they never wait for a parameterized statement on another (sql/session-parameters.ts).
  // Every connection runs its statements through a chain that drains what a failed one left behind
  // (sql/statement-chain.ts): chdb would hand it to the next statement, another caller's.
  const openOwn = () => {
    const connection = chainedConnection(sessionParameterConnection(createChdbConnection({ path: dataDir })));
    return { connection, client: clientOver(connection) };
  };
  const open = (): ClickHouseClient => openOwn().client;
  // Analyst SQL is the caller's text: it keeps chdb's own binding, where a value is never left on the connection
  // for a later query to read (one at a time across the analyst connections, beside nothing else of ours).
  const openAnalyst = (): ClickHouseClient => clientOver(chainedConnection(createChdbConnection({ path: dataDir })));
  const client = open();
  // Its own native connection on the same engine: identity lookups run beside inserts and reads.
  const lookupSession = new Session(dataDir);
  const lookupChain = new StatementChain(() => lookupSession.queryAsync('SELECT 1'));
  const readClients = Array.from({ length: options.readers ?? 1 }, open);
  const analystClients = Array.from({ length: options.analysts?.count ?? 1 }, openAnalyst);
  const jobClients: ClickHouseClient[] = [];
  return {
    mode: 'embedded',
    db: {
      client,
      database: options.database,
      embedded: true,
      // The session's own connection: inserts never queue behind the client's statements. It runs nothing but
      // inserts, which write no answer, so nothing is ever left there for another statement (sql/statement-chain.ts).
      rawInsert: async (...args) => void (await session.insert(rawInsertParams(...args))),
      lookup: {
        command: (sql) => lookupChain.run(async () => void (await lookupSession.queryAsync(sql))),
        insert: (table, values) => lookupChain.run(async () => void (await lookupSession.insert({ table, values, format: 'JSONEachRow' }))),
        select: (sql) => lookupChain.run(async () => (await lookupSession.queryAsync(sql, { format: 'JSONEachRow' })).text()),
      },
    },
    readClients,
    analystClients,
    jobDb() {
      const { connection, client: jobClient } = openOwn();
      jobClients.push(jobClient);
      return {
        client: jobClient,
        database: options.database,
        embedded: true,
        // The job's own session, like its statements: a job's inserts never queue behind ingest's.
        rawInsert: async (...args) => void (await connection.chdb.rawInsert(rawInsertParams(...args))),
      };
    },
    async close() {
      for (const other of [...readClients, ...analystClients, ...jobClients]) await other.close();
      await client.close();
      lookupSession.close();
      session.close();
    },
  };
}
