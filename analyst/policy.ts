import { walk, type AstNode } from './ast.js';
import { AGGREGATE_FUNCTIONS, ALLOWED_FUNCTIONS, ALLOWED_TABLE_FUNCTIONS, CASE_INSENSITIVE_FUNCTIONS } from './reviewed-functions.js';

/**
 * What an analyst query may contain, checked on the tree of EXPLAIN AST of its
 * canonical text (a pure parse: nothing runs). One SELECT (or UNION /
 * INTERSECT / EXCEPT of them); no SETTINGS, FORMAT or INTO OUTFILE anywhere;
 * tables only by unqualified name (the virtual tables, or the query's own
 * CTEs: anything else resolves in the analyst's empty current database and
 * fails); table functions and functions only from the reviewed lists.
 */
export class PolicyRefusal extends Error {
  override readonly name = 'PolicyRefusal';
}

/** Node kinds a SELECT is made of. Anything else (Set = SETTINGS, ExplainQuery, APPLY(...)) is refused. */
const NODE_KINDS = new Set([
  'SelectWithUnionQuery',
  'SelectIntersectExceptQuery',
  'SelectQuery',
  'ExpressionList',
  'Identifier',
  'Function',
  'Literal',
  'TablesInSelectQuery',
  'TablesInSelectQueryElement',
  'TableExpression',
  'TableIdentifier',
  'Subquery',
  'TableJoin',
  'ArrayJoin',
  'WithElement',
  'Asterisk',
  'QualifiedAsterisk',
  'ColumnsRegexpMatcher',
  'ColumnsListMatcher',
  'QualifiedColumnsRegexpMatcher',
  'QualifiedColumnsListMatcher',
  'ColumnsTransformerList',
  'ColumnsExceptTransformer',
  'ColumnsReplaceTransformer',
  'ColumnsReplaceTransformer::Replacement',
  'OrderByElement',
  'WindowDefinition',
  'WindowListElement',
  'InterpolateElement',
  'SampleRatio',
]);

const WHY_NOT: Record<string, string> = {
  Set: 'SETTINGS is not allowed: limits are set by meterhouse',
  ColumnsApplyTransformer: 'APPLY(...) is not allowed: call the function on the columns instead',
};

/** Syntax the parser writes as functions that system.functions does not list. */
const SYNTAX_FUNCTIONS = ['lambda', 'exists', 'grouping'];
const FUNCTIONS = new Set([...ALLOWED_FUNCTIONS, ...SYNTAX_FUNCTIONS]);
const BY_LOWER_CASE = new Map(CASE_INSENSITIVE_FUNCTIONS.map((f) => [f.toLowerCase(), f]));
const AGGREGATES = new Set(AGGREGATE_FUNCTIONS);
const TABLE_FUNCTIONS = new Set(ALLOWED_TABLE_FUNCTIONS);
// Longest first, so MergeState is taken before State.
const COMBINATORS = [
  'SimpleState',
  'MergeState',
  'OrDefault',
  'Distinct',
  'Resample',
  'ForEach',
  'ArgMax',
  'ArgMin',
  'OrNull',
  'Tuple',
  'Merge',
  'State',
  'Array',
  'Null',
  'Map',
  'If',
];
/** Functions whose right side may name a table (`x IN db.t`): there it must be a subquery or a list. */
const SET_FUNCTIONS = new Set(['in', 'notIn', 'globalIn', 'globalNotIn', 'nullIn', 'notNullIn', 'globalNullIn', 'globalNotNullIn']);
/** FROM-less SELECTs read system.one (EXPLAIN writes it in): one row, one column `dummy`. */
const IMPLICIT_TABLE = 'system.one';

function canonicalName(name: string): string | undefined {
  if (FUNCTIONS.has(name)) return name;
  return BY_LOWER_CASE.get(name.toLowerCase());
}

/** An allowed function, or an allowed aggregate with combinators (sumIf, uniqMergeState, avgOrNullIf). */
export function isAllowedFunction(name: string): boolean {
  if (canonicalName(name)) return true;
  let rest = name;
  for (let guard = 0; guard < 8; guard++) {
    const combinator = COMBINATORS.find((c) => rest.endsWith(c) && rest.length > c.length);
    if (!combinator) return false;
    rest = rest.slice(0, -combinator.length);
    const base = canonicalName(rest);
    if (base && AGGREGATES.has(base)) return true;
  }
  return false;
}

function checkTableExpression(node: AstNode): void {
  for (const child of node.children) {
    if (child.kind === 'TableIdentifier') {
      if (child.name.includes('.') && child.name !== IMPLICIT_TABLE)
        throw new PolicyRefusal(`table ${child.name}: only the virtual tables, by their plain name (no database)`);
    } else if (child.kind === 'Function') {
      if (!TABLE_FUNCTIONS.has(child.name))
        throw new PolicyRefusal(`table function ${child.name}() is not allowed (allowed: ${ALLOWED_TABLE_FUNCTIONS.join(', ')})`);
    }
  }
}

/** Refuses (PolicyRefusal) anything outside the policy; returns nothing when the query may run. */
export function checkPolicy(root: AstNode): void {
  const [statement, ...more] = root.children;
  if (!statement || more.length > 0) throw new PolicyRefusal('exactly one statement is allowed');
  if (statement.kind !== 'SelectWithUnionQuery') throw new PolicyRefusal(`only SELECT is allowed (this is ${statement.kind || 'not a query'})`);
  // FORMAT and INTO OUTFILE are further children of the statement.
  if (statement.children.length !== 1)
    throw new PolicyRefusal('FORMAT, INTO OUTFILE and SETTINGS are not allowed: choose the format with the request\'s "format"');
  for (const { node, parent } of walk(statement)) {
    if (node.kind in WHY_NOT) throw new PolicyRefusal(WHY_NOT[node.kind]!);
    if (!NODE_KINDS.has(node.kind)) throw new PolicyRefusal(`${node.kind || 'this construct'} is not allowed in analyst SQL`);
    if (node.unreadable) throw new PolicyRefusal('names with spaces, dots or parentheses (in backquotes) are not allowed here: use plain names and aliases');
    if (node.kind === 'TableExpression') checkTableExpression(node);
    if (node.kind === 'TableIdentifier' && parent?.kind !== 'TableExpression') throw new PolicyRefusal('a table name is only allowed in FROM and JOIN');
    if (node.kind === 'Function' && parent?.kind !== 'TableExpression' && !isAllowedFunction(node.name)) {
      throw new PolicyRefusal(`function ${node.name}() is not allowed (see GET /v1/sql/schema for the reviewed list)`);
    }
    if (node.kind === 'Function' && SET_FUNCTIONS.has(node.name)) {
      const right = node.children[0]?.children[1];
      if (right?.kind === 'Identifier')
        throw new PolicyRefusal(
          `${node.name.replace(/([A-Z])/g, ' $1').toUpperCase()} with a table name is not allowed: write IN (SELECT ... FROM <virtual table>)`,
        );
    }
  }
}
