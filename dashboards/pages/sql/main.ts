import '../base.css';
import './style.css';
import { ApiFailure, LinkError, linkRequest } from '../portal/api.js';
import { el, saveFile } from '../portal/dom.js';
import { queryEditor, type ConsoleSchema } from './editor.js';
import { resultsView, type SqlAnswer } from './results.js';

const app = document.getElementById('app')!;
const TOKEN_KEY = 'meterhouse.sql-console.token';
const FIRST_QUERY = 'SELECT customer_id, metric_name, sum(quantity) AS total\nFROM events\nGROUP BY customer_id, metric_name\nORDER BY total DESC\nLIMIT 100';
const DOWNLOADS = { csv: ['CSV', 'text/csv'], parquet: ['Parquet', 'application/vnd.apache.parquet'] } as const;

/**
 * The token comes in the URL fragment (never sent to a server, never in a
 * Referer). It is kept for this tab only, so a reload works, and taken out
 * of the address bar so it is not bookmarked or shared by accident.
 */
function readToken(): string | null {
  const token = new URLSearchParams(location.hash.slice(1)).get('token');
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  if (location.hash) history.replaceState(null, '', location.pathname + location.search);
  return token ?? sessionStorage.getItem(TOKEN_KEY);
}

const LINK_MESSAGES = {
  'link-expired': ['This SQL console link has expired.', 'Mint a new one with your key (POST /v1/sql/console-links).'],
  'link-revoked': ['This SQL console link was revoked.', 'Mint a new one with your key (POST /v1/sql/console-links).'],
  'link-invalid': ['This SQL console link is not valid.', 'Check that the whole link was copied, or mint a new one.'],
} as const;

function showState(state: LinkError['state'] | 'error', detail = ''): void {
  app.dataset.state = state;
  const [title, advice] = state === 'error' ? ['The SQL console could not be loaded.', detail] : LINK_MESSAGES[state];
  app.replaceChildren(el('div', { class: 'state', role: 'alert', 'data-state': state }, el('h1', {}, title), el('p', {}, advice)));
}

/** The console's query route, as the page calls it: the editor's text, in one of the answer formats. */
const query = (token: string, text: string, format: 'json' | keyof typeof DOWNLOADS) =>
  linkRequest(token, '/v1/sql/console/query', {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: '*/*' },
    body: JSON.stringify({ query: text, format }),
  });

async function start(): Promise<void> {
  const token = readToken();
  if (!token) return showState('link-invalid');
  const schema = (await (await linkRequest(token, '/v1/sql/console/schema')).json()) as ConsoleSchema;

  const output = el('section', { id: 'output', 'aria-live': 'polite', 'data-state': 'idle' });
  const editorBox = el('div', { class: 'editor' });
  const runButton = el('button', { type: 'button', class: 'run', id: 'run' }, 'Run');
  const downloads = Object.entries(DOWNLOADS).map(([format, [label]]) => {
    const button = el('button', { type: 'button', 'data-format': format }, `Download ${label}`);
    button.addEventListener('click', () => void download(format as keyof typeof DOWNLOADS));
    return button;
  });
  const buttons = [runButton, ...downloads];

  /** Run one request at a time; a refused link replaces the page with its state, any other failure shows the server's message. */
  async function busy(work: () => Promise<void>): Promise<void> {
    buttons.forEach((b) => (b.disabled = true));
    output.dataset.state = 'running';
    try {
      await work();
    } catch (error) {
      if (error instanceof LinkError) return showState(error.state);
      output.dataset.state = 'error';
      output.replaceChildren(el('pre', { class: 'error', role: 'alert', id: 'error' }, error instanceof ApiFailure ? error.message : String(error)));
    } finally {
      buttons.forEach((b) => (b.disabled = false));
    }
  }

  const run = () =>
    void busy(async () => {
      const answer = (await (await query(token, editor.state.doc.toString(), 'json')).json()) as SqlAnswer;
      output.replaceChildren(...resultsView(answer));
      output.dataset.state = 'done';
    });

  const download = (format: keyof typeof DOWNLOADS) =>
    busy(async () => {
      const blob = await (await query(token, editor.state.doc.toString(), format)).blob();
      saveFile(new Blob([blob], { type: DOWNLOADS[format][1] }), `query.${format}`);
      output.dataset.state = 'done';
    });

  runButton.addEventListener('click', run);
  const tables = schema.tables.map((t) => t.name).join(', ');
  app.replaceChildren(
    el('header', {}, el('h1', {}, 'SQL console'), el('p', { class: 'hint' }, `Tables: ${tables}. Ctrl+Enter (⌘+Enter) runs; Ctrl+Space completes names.`)),
    editorBox,
    el('div', { class: 'controls' }, ...buttons),
    output,
  );
  const editor = queryEditor(editorBox, schema, FIRST_QUERY, run);
  editor.focus();
  app.dataset.state = 'ready';
}

start().catch((error: unknown) => {
  if (error instanceof LinkError) return showState(error.state);
  showState('error', error instanceof ApiFailure ? error.message : String(error));
});
