/**
 * The tree of ClickHouse's `EXPLAIN AST` output: one line per node, indented
 * one space per level, `Kind [name] [(alias a)] [(children n)]`.
 *
 * The printed form is ambiguous where names hold spaces or parentheses
 * (`TableIdentifier events (alias z) x.usage_events` is one backquoted
 * database name), so a line is read strictly: a node whose line does not
 * match its kind's exact shape is kept as `unreadable` and the policy refuses
 * the query. Anything we cannot read for certain is refused, never guessed.
 */
export interface AstNode {
  kind: string;
  /** The name of a Function, TableIdentifier or Identifier; the text of a Literal. */
  name: string;
  /** The line did not have its kind's exact shape. */
  unreadable: boolean;
  children: AstNode[];
}

const ALIAS = String.raw`(?: \(alias [^()]*\))?`;
const CHILDREN = String.raw`(?: \(children \d+\))?`;
// A function or table name the policy can compare: letters, digits, underscore (and system.one's dot).
const SHAPES: Record<string, RegExp> = {
  Function: new RegExp(String.raw`^Function ([A-Za-z_][A-Za-z0-9_]*)${ALIAS}(?: \(window [^()]*\))?${CHILDREN}$`),
  TableIdentifier: new RegExp(String.raw`^TableIdentifier ([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)?)${ALIAS}${CHILDREN}$`),
  // Column names are not compared with anything: any text.
  Identifier: /^Identifier (.*)$/,
  Literal: /^Literal (.*)$/,
};
const PLAIN = new RegExp(String.raw`^([A-Za-z:]+)${ALIAS}${CHILDREN}$`);

function readLine(text: string): Omit<AstNode, 'children'> {
  const kind = /^[A-Za-z:]+/.exec(text)?.[0] ?? '';
  const shape = SHAPES[kind];
  if (shape) {
    const match = shape.exec(text);
    return { kind, name: match?.[1] ?? '', unreadable: !match };
  }
  // Every other node kind carries no name the policy reads (InterpolateElement and SampleRatio print one).
  const plain = PLAIN.test(text) || /^(InterpolateElement \(column [^()]*\)|SampleRatio [0-9 /]+)(?: \(children \d+\))?$/.test(text);
  return { kind, name: '', unreadable: !plain };
}

/** The root of the tree printed by EXPLAIN AST (its rows in order). */
export function parseExplainAst(lines: readonly string[]): AstNode {
  const root: AstNode = { kind: '', name: '', unreadable: false, children: [] };
  const stack: { depth: number; node: AstNode }[] = [{ depth: -1, node: root }];
  for (const line of lines) {
    const depth = line.length - line.trimStart().length;
    const node: AstNode = { ...readLine(line.trimStart()), children: [] };
    while (stack.length > 1 && stack.at(-1)!.depth >= depth) stack.pop();
    const parent = stack.at(-1)!;
    // A line more than one level below its parent is not EXPLAIN AST's shape.
    if (depth !== parent.depth + 1) node.unreadable = true;
    parent.node.children.push(node);
    stack.push({ depth, node });
  }
  return root;
}

/** Every node of the tree, depth first, with its parent. */
export function* walk(node: AstNode, parent?: AstNode): Generator<{ node: AstNode; parent: AstNode | undefined }> {
  yield { node, parent };
  for (const child of node.children) yield* walk(child, node);
}
