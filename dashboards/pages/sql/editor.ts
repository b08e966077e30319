import { EditorView, basicSetup } from 'codemirror';
import { keymap } from '@codemirror/view';
import { Prec } from '@codemirror/state';
import { completeFromList, type CompletionSource } from '@codemirror/autocomplete';
import { sql, StandardSQL, type SQLNamespace } from '@codemirror/lang-sql';

export interface ConsoleSchema {
  tables: { name: string; description: string; columns: { name: string; type: string; description: string }[] }[];
  functions: string[];
  tableFunctions: string[];
}

/** The virtual tables as completions: each table with its description, its columns with their types. */
function namespaceOf(schema: ConsoleSchema): SQLNamespace {
  return Object.fromEntries(
    schema.tables.map((t) => [
      t.name,
      {
        self: { label: t.name, type: 'type', detail: 'table', info: t.description },
        children: t.columns.map((c) => ({ label: c.name, type: 'property', detail: c.type, info: c.description })),
      },
    ]),
  );
}

/** The editor's look: CodeMirror styles go through its own style sheets (see below), so they are written here, not in style.css. */
const theme = EditorView.theme({
  '&': { minHeight: '160px', backgroundColor: '#fff', fontSize: '14px' },
  '&.cm-focused': { outline: '3px solid #2563eb', outlineOffset: '2px' },
  '.cm-scroller': { fontFamily: 'ui-monospace, SFMono-Regular, Menlo, monospace', minHeight: '160px' },
});

/**
 * The query editor (CodeMirror 6 with its SQL language): completes the
 * virtual tables, their columns and the functions analyst SQL allows, and
 * runs the query on Ctrl/Cmd+Enter. It lives in a shadow root: there
 * CodeMirror mounts its styles as constructed style sheets, which the page's
 * CSP (style-src 'self', no 'unsafe-inline') allows; on the document itself
 * it would add <style> elements, which that CSP refuses.
 */
export function queryEditor(host: HTMLElement, schema: ConsoleSchema, initial: string, run: () => void): EditorView {
  const root = host.attachShadow({ mode: 'open' });
  const parent = document.createElement('div');
  root.append(parent);
  const language = sql({ dialect: StandardSQL, schema: namespaceOf(schema), upperCaseKeywords: true });
  const allFunctions = completeFromList([...schema.functions, ...schema.tableFunctions].map((label) => ({ label, type: 'function' })));
  // After `table.` only the table's columns make sense: leave that to the schema's completion.
  const functions: CompletionSource = (context) => (context.matchBefore(/\.\w*$/) ? null : allFunctions(context));
  return new EditorView({
    doc: initial,
    parent,
    root,
    extensions: [
      Prec.highest(keymap.of([{ key: 'Mod-Enter', run: () => (run(), true) }])),
      basicSetup,
      theme,
      language,
      language.language.data.of({ autocomplete: functions }),
      EditorView.contentAttributes.of({ 'aria-label': 'SQL query' }),
    ],
  });
}
