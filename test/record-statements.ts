import type { ClickHouseClient } from '@clickhouse/client';

type Params = { query: string; query_params?: Record<string, unknown>; clickhouse_settings?: { log_comment?: string } };
const METHODS = ['query', 'command', 'exec', 'insert'] as const;

/** One statement a client issued: its name (the log_comment meterhouse tags it with), the client, its text and values. */
export interface RecordedStatement {
  name: string;
  client: ClickHouseClient;
  query: string;
  params: Record<string, unknown>;
  /** Milliseconds from sending it to its answer (or error), once it has one. */
  ms?: number;
}

/**
 * Every statement any client of this process issues until stop() (the clients share one class,
 * whose methods are wrapped). Call stop() in afterEach as well, so a failed test restores them.
 * `before`, if given, runs before each statement is sent (the statement waits for it): a test's
 * way to change something at a chosen point of a run.
 */
export function recordStatements(
  anyClient: ClickHouseClient,
  before?: (statement: RecordedStatement) => Promise<void>,
): { list: RecordedStatement[]; stop: () => void } {
  const proto = Object.getPrototypeOf(anyClient) as Record<string, (p: Params) => Promise<unknown>>;
  const originals = METHODS.map((m) => [m, proto[m]!] as const);
  const list: RecordedStatement[] = [];
  for (const [method, original] of originals) {
    proto[method] = function (this: ClickHouseClient, params: Params) {
      const name = String(JSON.parse(params.clickhouse_settings?.log_comment ?? '{}').name ?? params.query?.slice(0, 40));
      const statement: RecordedStatement = { name, client: this, query: params.query, params: params.query_params ?? {} };
      list.push(statement);
      const send = () => {
        const t0 = performance.now();
        return original.call(this, params).finally(() => (statement.ms = Math.round(performance.now() - t0)));
      };
      return before ? before(statement).then(send) : send();
    };
  }
  return { list, stop: () => originals.forEach(([m, original]) => (proto[m] = original)) };
}
