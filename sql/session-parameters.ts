// The formatter @clickhouse/client itself uses for a server's param_<name> (the package has no exports map; not re-exported at its root).
import { formatQueryParams } from '@clickhouse/client/dist/common/data_formatter/format_query_params.js';

/**
 * Bound parameters on the embedded engine, without chdb's own binding.
 *
 * chdb binds parameters through one process-wide slot, so it runs every
 * statement that has any one at a time, across all connections
 * (`chdb/index.js`, globalParamChain): an API read waited for an analyst
 * query or a job's statement on another connection, and they for it. Instead,
 * each statement sets its values as the connection's own query parameters
 * (`SET param_<name> = '<value>'`, as clickhouse-client does) in the same call
 * as the statement. The engine still binds them: it parses each value as its
 * placeholder's type, and the value never becomes SQL. A connection runs one
 * call at a time, so no other statement sees them in between.
 *
 * Values are formatted by @clickhouse/client's own `formatQueryParams`, the
 * same text the client sends a server as `param_<name>` (server mode), so a
 * value means the same in both modes; that text is then written as a SQL
 * string literal.
 */

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
// A placeholder: {name:Type}, {name: Type} (ClickHouse's query parameter syntax).
const PLACEHOLDER = /\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*:/g;

/** `text` as a ClickHouse string literal: quotes and backslashes escaped, control bytes as \xHH (the call's SQL is a C string). */
export function stringLiteral(text: string): string {
  let out = "'";
  for (const ch of text) {
    const code = ch.codePointAt(0)!;
    if (ch === "'" || ch === '\\') out += `\\${ch}`;
    else if (code < 0x20 || code === 0x7f) out += `\\x${code.toString(16).padStart(2, '0')}`;
    else out += ch;
  }
  return `${out}'`;
}

/** The placeholder names `sql` uses, each once. */
export function placeholderNames(sql: string): string[] {
  return [...new Set([...sql.matchAll(PLACEHOLDER)].map((m) => m[1]!))];
}

/**
 * `sql` preceded by a SET of every parameter it uses. Every placeholder must
 * have a value here: a value left on the connection by an earlier statement
 * must never stand in for a missing one (it could be another tenant's).
 */
export function withSessionParameters(sql: string, params: Record<string, unknown>): string {
  const assignments: string[] = [];
  for (const name of placeholderNames(sql)) {
    if (!Object.hasOwn(params, name)) throw new Error(`query parameter ${name} has no value`);
  }
  for (const [name, value] of Object.entries(params)) {
    if (!NAME.test(name)) throw new Error(`invalid query parameter name ${JSON.stringify(name)}`);
    assignments.push(`param_${name} = ${stringLiteral(formatQueryParams({ value }))}`);
  }
  if (assignments.length === 0) return sql;
  // One SET of every value: each statement of a call is parsed and run on its own (a SET per value cost about
  // 0.2 ms each, 1-1.5 ms of a read with six values). The SET is parsed as a query, under max_query_size (256 KiB
  // by default), which chdb's binding and a server's param_<name> are not: values that need more (10,000 ids)
  // raise it first, in a statement of its own, to what the SET needs.
  const set = `SET ${assignments.join(', ')}`;
  const raise = set.length > DEFAULT_MAX_QUERY_SIZE - 1024 ? `SET max_query_size = ${set.length + 1024}; ` : '';
  return `${raise}${set}; ${sql}`;
}

const DEFAULT_MAX_QUERY_SIZE = 262_144;

type Statement = { query: string; query_params?: Record<string, unknown> | undefined };

/**
 * A chdb connection (chdb/connection) whose parameterized statements carry
 * their values as session parameters (withSessionParameters) instead of
 * chdb's process-wide binding; everything else is the connection's own.
 */
export function sessionParameterConnection<C extends object>(connection: C): C {
  const rewritten = new Set(['query', 'exec', 'command']);
  return new Proxy(connection, {
    get(target, prop) {
      const value: unknown = Reflect.get(target, prop, target);
      if (typeof value !== 'function') return value;
      const method = value as (params: Statement) => unknown;
      if (typeof prop !== 'string' || !rewritten.has(prop)) return method.bind(target);
      return (params: Statement) => {
        const bound = params.query_params ?? {};
        if (Object.keys(bound).length === 0) return method.call(target, params);
        return method.call(target, { ...params, query: withSessionParameters(params.query, bound), query_params: undefined });
      };
    },
  });
}
