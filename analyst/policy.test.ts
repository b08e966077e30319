import { describe, expect, it } from 'vitest';
import { parseExplainAst } from './ast.js';
import { checkPolicy, isAllowedFunction } from './policy.js';

const tree = (text: string) => parseExplainAst(text.split('\n'));
const select = (...body: string[]) =>
  ['SelectWithUnionQuery (children 1)', ' ExpressionList (children 1)', '  SelectQuery (children 2)', ...body.map((l) => `   ${l}`)].join('\n');
const from = (table: string) =>
  select(
    'ExpressionList (children 1)',
    ' Asterisk',
    'TablesInSelectQuery (children 1)',
    ' TablesInSelectQueryElement (children 1)',
    '  TableExpression (children 1)',
    `   ${table}`,
  );

describe('the analyst policy', () => {
  it('takes aggregate functions with combinators and case-insensitive names, nothing else', () => {
    for (const f of ['sum', 'SUM', 'Count', 'sumIf', 'uniqMergeState', 'avgOrNullIf', 'quantilesExactForEach', 'plus', 'lambda'])
      expect(isAllowedFunction(f), f).toBe(true);
    for (const f of ['Plus', 'sleepIf', 'fileState', 'sumIfx', 'ifIf', 'dictGetOrNull', 'nosuchfunction']) expect(isAllowedFunction(f), f).toBe(false);
  });

  it('accepts a virtual table by plain name', () => {
    expect(() => checkPolicy(tree(from('TableIdentifier events (alias e)')))).not.toThrow();
  });

  it('refuses a line it cannot read for certain: a name made to look like an alias', () => {
    expect(() => checkPolicy(tree(from('TableIdentifier events (alias z) x.usage_events')))).toThrow(/plain names/);
    expect(() => checkPolicy(tree(from('TableIdentifier db.usage_events')))).toThrow(/plain name/);
  });

  it('refuses a second child of the statement (FORMAT, INTO OUTFILE) and SETTINGS anywhere', () => {
    expect(() => checkPolicy(tree(`${from('TableIdentifier events')}\n Identifier CSV`))).toThrow(/FORMAT/);
    expect(() => checkPolicy(tree(`${from('TableIdentifier events')}\n   Set`))).toThrow(/SETTINGS/);
  });

  it('refuses node kinds it does not know and lines indented out of shape', () => {
    expect(() => checkPolicy(tree(select('ExpressionList (children 1)', ' ExplainQuery (children 1)')))).toThrow(/ExplainQuery/);
    expect(() => checkPolicy(tree(select('ExpressionList (children 1)', '   Identifier a')))).toThrow();
  });
});
