import type { ClickHouseClient } from '@clickhouse/client';
import { parseExplainAst } from './ast.js';
import { checkPolicy, PolicyRefusal } from './policy.js';
import { SqlError, sqlErrorOf } from './errors.js';

/** A query parameter's value as JSON gives it: bound by the engine as `{name:Type}`. */
export type SqlParamValue = string | number | boolean | null | SqlParamValue[];

/** Parameter names the guard and the composed query use: an analyst's parameter may not start with it. */
export const RESERVED_PARAM_PREFIX = 'mh_';

export interface GuardedQuery {
  /** The query as ClickHouse's own formatter prints it: exactly one statement, comments gone. */
  canonical: string;
}

/** Engine errors of the guard's own statements that are not the analyst's mistake (503). */
export class GuardUnavailableError extends Error {
  override readonly name = 'GuardUnavailableError';
}

async function rows(client: ClickHouseClient, query: string, params: Record<string, unknown>, database: string): Promise<Record<string, string>[]> {
  try {
    const result = await client.query({ query, query_params: params, format: 'JSONEachRow' });
    return await result.json<Record<string, string>>();
  } catch (error) {
    const sqlError = sqlErrorOf(error, database, {});
    if (!sqlError) throw new GuardUnavailableError('the engine did not answer the guard', { cause: error });
    throw new SqlError('refused', sqlError.message, sqlError.details);
  }
}

/**
 * Decide whether `sql` may run, using ClickHouse's own parser:
 * 1. formatQuerySingleLine, with the text bound as a parameter, canonicalises
 *    it: one statement (several are a syntax error), comments stripped.
 * 2. EXPLAIN AST of the canonical text, with the analyst's parameters bound
 *    (so an Identifier parameter shows the table it names), parses it without
 *    running anything; EXPLAIN in a subquery refuses FORMAT and INTO OUTFILE.
 * 3. The tree is checked against the policy (analyst/policy.ts).
 * Throws SqlError('refused') with the reason.
 */
export async function guardQuery(client: ClickHouseClient, database: string, sql: string, params: Record<string, SqlParamValue>): Promise<GuardedQuery> {
  const reserved = Object.keys(params).find((name) => name.startsWith(RESERVED_PARAM_PREFIX));
  if (reserved) throw new SqlError('refused', `parameter ${reserved}: names starting with ${RESERVED_PARAM_PREFIX} are reserved`);
  const [formatted] = await rows(
    client,
    `SELECT formatQuerySingleLine({${RESERVED_PARAM_PREFIX}sql:String}) AS q`,
    { [`${RESERVED_PARAM_PREFIX}sql`]: sql },
    database,
  );
  const canonical = formatted?.q;
  if (!canonical) throw new SqlError('refused', 'the query is empty');
  // The canonical text is the formatter's output for one statement, not the analyst's raw text.
  const explained = await rows(client, `SELECT explain FROM (EXPLAIN AST ${canonical})`, params, database);
  try {
    checkPolicy(parseExplainAst(explained.map((r) => r.explain ?? '')));
  } catch (error) {
    if (error instanceof PolicyRefusal) throw new SqlError('refused', error.message);
    throw error;
  }
  return { canonical };
}
